// Server: JSON-RPC connections over any transport, the handler table, and the error mapping at the edge.
export { serveChannel, HandlerTable, type Handler, type HandlerContext, type ConnectionDeps } from './connection.js';
export { ClientRegistry, createClientHandle, type ClientHandle, type ClientInit } from './client.js';
export { toResponseError, invalidParams } from './errors.js';
export { registerSessionHandlers, type LifecycleInfo } from './session-handlers.js';
export { resolveTarget, pendingSessions, type ReviewTarget, type PendingPort } from './review-target.js';
export {
  registerCapabilityHandlers,
  type ReviewPort,
  type ToolsPort,
  type PolicyPort,
  type AuditPort,
  type BundlesPort,
} from './capability-handlers.js';
