import type { MessageReader, MessageWriter } from 'vscode-jsonrpc';
import type { BadMessage } from './framing.js';

export type TransportKind = 'stdio' | 'socket' | 'websocket';

/**
 * One accepted client link, before any JSON-RPC logic: a reader, a writer and how to close it.
 * Bad frames are reported through `setBadMessageHandler` so the connection layer can answer them.
 */
export interface Channel {
  readonly transport: TransportKind;
  readonly reader: MessageReader;
  readonly writer: MessageWriter;
  /** Registers the handler for malformed / oversized / invalid messages (called before listen). */
  setBadMessageHandler(handler: (bad: BadMessage) => void): void;
  close(): void;
}

/** Receives every new channel from every transport. */
export type ChannelHandler = (channel: Channel) => void;

/** Buffers bad-message reports until the connection layer registers its handler. */
export function createBadMessageRelay(): {
  relay: (bad: BadMessage) => void;
  set: (h: (bad: BadMessage) => void) => void;
} {
  let handler: ((bad: BadMessage) => void) | undefined;
  const pending: BadMessage[] = [];
  return {
    relay: (bad) => (handler ? handler(bad) : pending.push(bad)),
    set: (h) => {
      handler = h;
      for (const bad of pending.splice(0)) h(bad);
    },
  };
}
