// CappedFramedReader on its own: LSP frames split anyhow across chunks, an oversized frame refused from its
// header and skipped unread, bad JSON and non-JSON-RPC values reported without losing the stream, and a
// malformed header reported as fatal (nothing after it is read).
import { PassThrough } from 'node:stream';
import type { Message } from 'vscode-jsonrpc';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCodes } from '@shadowbox/protocol';
import { CappedFramedReader, checkMessage, type BadMessage } from './framing.js';

const frame = (body: string) => Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
const req = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'm', params: {} });

function reader(maxBytes = 1024) {
  const input = new PassThrough();
  const got: Message[] = [];
  const bad: BadMessage[] = [];
  new CappedFramedReader(input, maxBytes, (b) => bad.push(b)).listen((m) => got.push(m));
  return { input, got, bad };
}

describe('CappedFramedReader', () => {
  it('reads frames however the bytes are chunked, multi-byte characters included', async () => {
    const { input, got } = reader();
    const bytes = Buffer.concat([
      frame(req(1)),
      frame(JSON.stringify({ jsonrpc: '2.0', method: 'n', params: { t: 'ä€😀' } })),
    ]);
    for (const b of bytes) input.write(Buffer.from([b]));
    await vi.waitFor(() => expect(got).toHaveLength(2));
    expect(got[1]).toMatchObject({ method: 'n', params: { t: 'ä€😀' } });
  });

  it('refuses an oversized frame from its header, skips its body, and reads on', async () => {
    const { input, got, bad } = reader(64);
    input.write(frame(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'big', params: { x: 'y'.repeat(500) } })));
    input.write(frame(req(2)));
    await vi.waitFor(() => expect(got).toHaveLength(1));
    expect(got[0]).toMatchObject({ id: 2 });
    expect(bad).toEqual([
      expect.objectContaining({ code: ErrorCodes.MessageTooLarge, reason: 'message_too_large', fatal: false }),
    ]);
  });

  it('reports bad JSON and values that are not JSON-RPC messages, keeping the id it can read', async () => {
    const { input, got, bad } = reader();
    input.write(frame('{nope'));
    input.write(frame(JSON.stringify({ jsonrpc: '1.0', id: 7, method: 'm' })));
    input.write(frame(req(3)));
    await vi.waitFor(() => expect(got).toHaveLength(1));
    expect(bad.map((b) => [b.reason, b.id, b.fatal])).toEqual([
      ['parse_error', null, false],
      ['invalid_request', 7, false],
    ]);
  });

  it('treats a malformed header as fatal and reads nothing after it', async () => {
    const { input, got, bad } = reader();
    input.write(Buffer.from('Content-Length: twelve\r\n\r\n'));
    input.write(frame(req(4)));
    await vi.waitFor(() => expect(bad).toHaveLength(1));
    expect(bad[0]).toMatchObject({ code: ErrorCodes.ParseError, reason: 'malformed_header', fatal: true });
    expect(got).toEqual([]);
  });
});

describe('checkMessage', () => {
  it('accepts requests, notifications and responses, and says why anything else is not one', () => {
    expect(checkMessage({ jsonrpc: '2.0', id: 1, method: 'a' })).toMatchObject({ method: 'a' });
    expect(checkMessage({ jsonrpc: '2.0', method: 'a', params: [] })).toMatchObject({ method: 'a' });
    expect(checkMessage({ jsonrpc: '2.0', id: 1, result: null })).toMatchObject({ id: 1 });
    expect(checkMessage([1])).toBe('batch requests are not supported');
    expect(checkMessage({ jsonrpc: '2.0', id: {}, method: 'a' })).toBe('id must be a number or a string');
    expect(checkMessage({ jsonrpc: '2.0', method: 'a', params: 3 })).toBe('params must be an object or an array');
    expect(checkMessage({ jsonrpc: '2.0', id: 1 })).toBe('not a request, notification or response');
  });
});
