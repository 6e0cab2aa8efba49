// readClientBuffer against a real JSON-RPC connection (an in-memory stream pair): a client that declared
// buffers answers with its text; no capability, no buffer, a bad answer, an error or silence past the
// timeout all give null (the saved file), and a late request is cancelled at the client.
import { PassThrough } from 'node:stream';
import { ResponseError, type CancellationToken } from 'vscode-jsonrpc';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { afterEach, describe, expect, it } from 'vitest';
import { BufferRead } from '@shadowbox/protocol';
import { createClientHandle, type ClientHandle } from '../server/index.js';
import type { Logger } from '../state/index.js';
import { readClientBuffer } from './buffers.js';

type Params = { sessionId: string; path: string };
const memoryLogger = (): Logger => ({
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
  close: async () => undefined,
});
const connections: MessageConnection[] = [];
afterEach(() => {
  for (const c of connections.splice(0)) c.dispose();
});

/** A client on the far end of a real connection; `answer` plays the editor. */
function fakeClient(answer: (p: Params, token: CancellationToken) => Promise<unknown>, canReadBuffers = true) {
  const up = new PassThrough();
  const down = new PassThrough();
  const daemonSide = createMessageConnection(new StreamMessageReader(up), new StreamMessageWriter(down));
  const clientSide = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  connections.push(daemonSide, clientSide);
  const seen = { asked: [] as Params[], cancelled: 0 };
  clientSide.onRequest(BufferRead.method, (p: Params, token: CancellationToken) => {
    seen.asked.push(p);
    token.onCancellationRequested(() => (seen.cancelled += 1));
    return answer(p, token);
  });
  daemonSide.listen();
  clientSide.listen();
  const handle: ClientHandle = createClientHandle(daemonSide, {
    id: 'c1',
    name: 'c1',
    kind: 'test',
    transport: 'socket',
    canAnswerPermissions: false,
    wantsEvents: true,
    canReadBuffers,
    onClose: () => () => undefined,
  });
  return { handle, seen };
}

describe('readClientBuffer', () => {
  it('returns the text a buffers client answers, asking with the session and the relative path', async () => {
    const c = fakeClient(async (p) => ({ text: `buffer of ${p.path}` }));
    expect(await readClientBuffer(c.handle, 's1', 'src/a.ts', memoryLogger())).toBe('buffer of src/a.ts');
    expect(c.seen.asked).toEqual([{ sessionId: 's1', path: 'src/a.ts' }]);
  });

  it('gives null without asking when there is no driver or it did not declare buffers', async () => {
    const c = fakeClient(async () => ({ text: 'x' }), false);
    expect(await readClientBuffer(c.handle, 's1', 'a', memoryLogger())).toBeNull();
    expect(await readClientBuffer(undefined, 's1', 'a', memoryLogger())).toBeNull();
    expect(c.seen.asked).toHaveLength(0);
  });

  it('gives null for no buffer, an invalid result and an error', async () => {
    expect(await readClientBuffer(fakeClient(async () => null).handle, 's1', 'a', memoryLogger())).toBeNull();
    expect(
      await readClientBuffer(fakeClient(async () => ({ content: 'wrong shape' })).handle, 's1', 'a', memoryLogger()),
    ).toBeNull();
    expect(
      await readClientBuffer(
        fakeClient(async () => Promise.reject(new ResponseError(-32603, 'boom'))).handle,
        's1',
        'a',
        memoryLogger(),
      ),
    ).toBeNull();
  });

  it('gives null after the timeout and cancels the request at the client', async () => {
    const c = fakeClient(
      (_p, token) =>
        new Promise((_, reject) => token.onCancellationRequested(() => reject(new ResponseError(-32800, 'cancelled')))),
    );
    // The client never answers, so only the timeout can end the read (its length is not asserted).
    expect(await readClientBuffer(c.handle, 's1', 'a', memoryLogger(), 50)).toBeNull();
    await expect.poll(() => c.seen.cancelled).toBe(1);
  });
});
