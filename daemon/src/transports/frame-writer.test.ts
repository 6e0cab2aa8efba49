// FrameWriter on its own: one write per message (header and body together) in the order given, read back
// whole by the daemon's own reader; a failed write and a message with no JSON form reject and say so.
import { PassThrough, Writable } from 'node:stream';
import type { Message } from 'vscode-jsonrpc';
import { describe, expect, it, vi } from 'vitest';
import { FrameWriter } from './frame-writer.js';
import { CappedFramedReader } from './framing.js';

/** A writable that records each write() it gets as one chunk. */
function recorder() {
  const chunks: Buffer[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  return { out, chunks };
}

describe('FrameWriter', () => {
  it('writes each message as one Content-Length frame, in order, that the reader reads back', async () => {
    const { out, chunks } = recorder();
    const w = new FrameWriter(out);
    const msgs: Message[] = [
      { jsonrpc: '2.0', id: 1, result: { text: 'ä€😀' } } as Message,
      { jsonrpc: '2.0', method: 'session/event', params: { seq: 2 } } as Message,
    ];
    await Promise.all(msgs.map((m) => w.write(m)));
    expect(chunks).toHaveLength(2);
    const body = JSON.stringify(msgs[0]);
    expect(chunks[0].toString('utf8')).toBe(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);

    const pipe = new PassThrough();
    const got: Message[] = [];
    new CappedFramedReader(pipe, 1024, () => undefined).listen((m) => got.push(m));
    for (const c of chunks) pipe.write(c);
    await vi.waitFor(() => expect(got).toEqual(msgs));
  });

  it('rejects a write the stream refuses and a message without a JSON form, firing onError for each', async () => {
    const out = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('EPIPE'));
      },
    });
    out.on('error', () => undefined);
    const w = new FrameWriter(out);
    const errors: unknown[] = [];
    w.onError(([e]) => errors.push(e));
    await expect(w.write({ jsonrpc: '2.0', method: 'n' } as Message)).rejects.toThrow('EPIPE');
    const cyclic: Record<string, unknown> = { jsonrpc: '2.0', method: 'n' };
    cyclic.params = cyclic;
    await expect(w.write(cyclic as unknown as Message)).rejects.toThrow(TypeError);
    expect(errors).toHaveLength(2);
  });
});
