// The ACP bridge: `shadowbox acp` speaks the Agent Client Protocol to an editor and relays to the daemon.
export { createAcpAgent, type AcpBridgeOptions } from './bridge.js';
export { acpCommand, hostAcpConnection, type AcpEnd, type AcpIo } from './command.js';
export { toAcpUpdates, acpStopReason, promptText, locationsOf, type FileDiffText } from './map.js';
