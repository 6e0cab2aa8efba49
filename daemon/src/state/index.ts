// State: where the daemon keeps its files, the one-daemon lock, the WebSocket token, the logger.
export { resolveStatePaths, workspaceStateDir, type StatePaths } from './paths.js';
export { acquireLock, readLock, LockInfo } from './lock.js';
export { createLogger, silentLogger, type Logger } from './logger.js';
export { writeToken, readToken, loadOrCreateToken } from './token.js';
export { loadConfig, envInt, ConfigFile } from './config.js';
export { writeFileAtomic, fsyncDir, type WriteFileAtomicOptions } from './durable.js';
export { ensurePrivateDir, type PrivateDir } from './owned-dir.js';
