/** The daemon version reported by initialize and `shadowbox status`. */
export const VERSION = '0.1.0';

/**
 * The wire protocol version this build speaks (`PROTOCOL_VERSION` in protocol/src/lifecycle.ts; a test
 * keeps them equal). Repeated here so `shadowbox --version` loads nothing else.
 */
export const PROTOCOL_VERSION = 1;

/** What `shadowbox --version` prints: this version, the protocol's and Node's. */
export function versionLine(node = process.version): string {
  return `shadowbox ${VERSION} (protocol ${PROTOCOL_VERSION}, node ${node})`;
}
