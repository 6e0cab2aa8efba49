// The shared shadowbox client library: typed requests over the socket, stdio or the WebSocket bridge.
export { ShadowboxClient, type PermissionHandler } from './client.js';
export {
  connectSocket,
  connectWebSocket,
  DAEMON_EXIT_ALREADY_RUNNING,
  DaemonStartError,
  ensureDaemon,
  type EnsureDaemonOptions,
} from './connect.js';
export { describeDrift, environmentDrift, fingerprint, type EnvironmentDrift } from './environment.js';
