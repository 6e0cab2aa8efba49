// The shadowbox wire contract. No I/O: daemon and clients import this; it imports nothing of theirs.
export * from './errors.js';
export * from './error-reasons.js';
export * from './define.js';
export * from './lifecycle.js';
export * from './session.js';
export * from './agent-types.js';
export * from './commands.js';
export * from './tools.js';
export * from './shadow.js';
export * from './audit.js';
export * from './bundles.js';
export * from './buffers.js';
export * from './methods.js';
export * from './transport.js';
export { renderProtocolDocs } from './render-docs.js';
export * from './audit-summary.js';
