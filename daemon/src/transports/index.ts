// Transports: how clients reach the daemon (stdio, Unix socket, loopback WebSocket). No JSON-RPC logic here.
export type { Channel, ChannelHandler, TransportKind } from './channel.js';
export type { BadMessage } from './framing.js';
export { createStdioChannel } from './stdio.js';
export { listenSocket, listenUnixSocket, type SocketServer } from './socket.js';
export { listenHttp, type HttpRoute, type HttpServer, type HttpServerOptions } from './http.js';
export { checkUpgrade, type Refusal } from './ws-auth.js';
