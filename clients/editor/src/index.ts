// The shared shadowbox client library: typed requests over the socket, stdio or the WebSocket bridge.
export { ShadowboxClient, type PermissionHandler } from './client.js';
export { connectSocket, connectWebSocket, ensureDaemon, type EnsureDaemonOptions } from './connect.js';
