/** Defaults shared by daemon and clients for the transports. */
export const Defaults = {
  /** Largest accepted message (header-declared or frame) in bytes; configurable on the daemon. */
  maxMessageBytes: 16 * 1024 * 1024,
  /** WebSocket path on the daemon's loopback HTTP server. */
  wsPath: '/rpc',
  /** Sub-protocol name the web page offers; the token rides in a second offered sub-protocol. */
  wsSubprotocol: 'shadowbox.v1',
  /** Prefix of the sub-protocol entry that carries the token: `shadowbox.token.<token>`. */
  wsTokenSubprotocolPrefix: 'shadowbox.token.',
} as const;

/**
 * The daemon's ACP socket is its Unix socket's path with this suffix (`daemon.sock.acp`): one editor per
 * connection, speaking the Agent Client Protocol itself (one JSON message per line, no framing of ours) to the
 * bridge the daemon hosts. The native `shadowbox acp` relays its stdin and stdout there; with no daemon (or none
 * listening there) `shadowbox acp` runs the bridge in a Node process of its own, which starts the daemon.
 */
export const ACP_SOCKET_SUFFIX = '.acp';

/** The path of the daemon's ACP socket for its Unix socket path (see ACP_SOCKET_SUFFIX). */
export function acpSocketPath(socketPath: string): string {
  return `${socketPath}${ACP_SOCKET_SUFFIX}`;
}
