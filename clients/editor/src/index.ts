// The shared shadowbox client library: typed requests over the socket, stdio or the WebSocket bridge.
export { ShadowboxClient, type PermissionHandler } from './client.js';
export {
  connectSocket,
  connectWebSocket,
  DaemonStartError,
  ensureDaemon,
  type EnsureDaemonOptions,
} from './connect.js';
export { DAEMON_MALLOC_TUNABLES, daemonStartEnv } from './daemon-env.js';
// The daemon's exit code for "another daemon holds the lock" is protocol vocabulary; re-exported for clients.
export { DAEMON_EXIT_ALREADY_RUNNING } from '@shadowbox/protocol';
export { describeDrift, environmentDrift, fingerprint, type EnvironmentDrift } from './environment.js';
