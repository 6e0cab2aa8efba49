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
