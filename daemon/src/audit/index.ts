// Audit log: per-workspace, append-only, hash-chained JSON Lines with ed25519-signed checkpoints.
export { createAuditLog, type AuditLog, type AuditLogDeps } from './log.js';
export type { AuditSink, AuditEntryInput, AuditReceipt } from './sink.js';
export type { AuditReference } from './verify.js';
export type { Durability } from './writer.js';
export {
  sanitizeData,
  isSecretKey,
  scrubString,
  sessionEventRecord,
  DEFAULT_LIMITS,
  type DataLimits,
} from './redact.js';
export { auditFiles } from './files.js';
export { daemonKeyPath } from './keys.js';
