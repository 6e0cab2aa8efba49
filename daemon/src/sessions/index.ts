// Sessions: persisted event logs, attach/detach with one driver, prompts through the agent loop, permission questions.
export { SessionManager, type SessionManagerDeps, type SessionToolContext, type SessionInfoT } from './manager.js';
export { LiveSession, type SessionMeta, type Mode } from './live-session.js';
export type { PermissionQuestion, PermissionOutcome } from './permissions.js';
export type { SessionClient } from './client-port.js';
export { readEventLog, EventLog } from './event-log.js';
export { readAuditReferences, type AuditSeqReference } from './audit-refs.js';
