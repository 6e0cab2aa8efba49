import type { Readable, Writable } from 'node:stream';
import { CappedFramedReader } from './framing.js';
import { FrameWriter } from './frame-writer.js';
import { createBadMessageRelay, type Channel } from './channel.js';

/** The --stdio transport: LSP framing on the given streams (stdin/stdout); stdout carries only protocol messages. */
export function createStdioChannel(input: Readable, output: Writable, maxBytes: number): Channel {
  const bad = createBadMessageRelay();
  const reader = new CappedFramedReader(input, maxBytes, bad.relay);
  const writer = new FrameWriter(output);
  output.on('error', () => undefined);
  return { transport: 'stdio', reader, writer, setBadMessageHandler: bad.set, close: () => input.destroy() };
}
