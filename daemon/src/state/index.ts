// State: where the daemon keeps its files, the one-daemon lock, the WebSocket token, the logger.
export { resolveStatePaths, workspaceStateDir, type StatePaths } from './paths.js';
export { acquireLock, readLock, LockInfo } from './lock.js';
export { consoleAsOneLine, createLogger, silentLogger, type Logger, type FileLogger } from './logger.js';
export { writeToken, readToken, loadOrCreateToken } from './token.js';
export { loadConfig, envInt, ConfigFile } from './config.js';
export { fileChunks, hashFileHandle, noSpaceError, readWholeInto, writeAll, writeAllSync } from './file-io.js';
export { writeFileAtomic, writeNewFileSynced, fsyncDir, mkdirAll, type WriteFileAtomicOptions } from './durable.js';
export {
  isDiskFull,
  diskFullError,
  mapDiskFull,
  freeSpace,
  freeSpaceText,
  findDiskFull,
  typedFsError,
} from './disk-full.js';
export { ensurePrivateDir, type PrivateDir } from './owned-dir.js';
export { ONCE } from './parse-once.js';
export { readJsonFileOrNull } from './json-file.js';
export { inLanes } from './lanes.js';
export { releaseMemory, releaseMemoryQuietly } from './memory.js';
export { createIdleRelease, type IdleRelease } from './idle-release.js';
