// PermissionBroker against real JSON-RPC connections (an in-memory stream pair per client): the first
// answer wins and the other clients' requests are cancelled, timeout and abort settle the question,
// and a client that fails or answers nonsense leaves the question to the others.
import { PassThrough } from 'node:stream';
import { ResponseError, type CancellationToken } from 'vscode-jsonrpc';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { afterEach, describe, expect, it } from 'vitest';
import { PermissionRequest, type SessionEventBody } from '@shadowbox/protocol';
import { createClientHandle, type ClientHandle } from '../server/index.js';
import { PermissionBroker, type PermissionQuestion } from './permissions.js';

type Params = { requestId: string; callId: string; tool: string };
type Answer = (p: Params, token: CancellationToken) => Promise<unknown>;

interface FakeClient {
  handle: ClientHandle;
  asked: Params[];
  cancelled: string[];
}

const connections: MessageConnection[] = [];
afterEach(() => {
  for (const c of connections.splice(0)) c.dispose();
});

/** A client on the far end of a real vscode-jsonrpc connection; `answer` plays the person. */
function fakeClient(id: string, answer: Answer, canAnswerPermissions = true): FakeClient {
  const up = new PassThrough();
  const down = new PassThrough();
  const daemonSide = createMessageConnection(new StreamMessageReader(up), new StreamMessageWriter(down));
  const clientSide = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  connections.push(daemonSide, clientSide);
  const f: FakeClient = { asked: [], cancelled: [], handle: undefined as unknown as ClientHandle };
  clientSide.onRequest(PermissionRequest.method, (p: Params, token: CancellationToken) => {
    f.asked.push(p);
    token.onCancellationRequested(() => f.cancelled.push(p.requestId));
    return answer(p, token);
  });
  daemonSide.listen();
  clientSide.listen();
  f.handle = createClientHandle(daemonSide, {
    id,
    name: id,
    kind: 'test',
    transport: 'socket',
    canAnswerPermissions,
    wantsEvents: true,
    canReadBuffers: false,
    onClose: () => () => undefined,
  });
  return f;
}

const never: Answer = (_p, token) =>
  new Promise((_, reject) => token.onCancellationRequested(() => reject(new ResponseError(-32800, 'cancelled'))));
const after =
  (ms: number, outcome: string): Answer =>
  () =>
    new Promise((r) => setTimeout(() => r({ outcome }), ms));
// Awaits a condition without a deadline of its own: a condition that never holds fails by the test's timeout.
const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setImmediate(r));
  return true;
};

const question: PermissionQuestion = {
  turnId: 't1',
  callId: 'call-1',
  tool: 'write_file',
  kind: 'edit',
  summary: 'write a.txt',
  input: { path: 'a.txt' },
  rule: 'project: ask write_file',
  options: ['allow_once', 'allow_session', 'allow_project', 'deny'],
};

function makeBroker(clients: FakeClient[], timeoutMs = 10_000) {
  const events: SessionEventBody[] = [];
  const broker = new PermissionBroker(
    'sess-1',
    (b) => void events.push(b),
    () => clients.map((c) => c.handle),
    timeoutMs,
  );
  return { broker, events };
}

describe('PermissionBroker', () => {
  it('takes the first answer and cancels the request at the other clients; later answers are refused', async () => {
    const fast = fakeClient('fast', after(20, 'allow_once'));
    const slow = fakeClient('slow', never);
    const viewer = fakeClient('viewer', after(0, 'deny'), false);
    const { broker, events } = makeBroker([fast, slow, viewer]);
    const answer = await broker.ask(question, new AbortController().signal);
    expect(answer).toEqual({ outcome: 'allow_once', by: 'fast' });
    expect(broker.size).toBe(0);
    expect(viewer.asked).toHaveLength(0); // did not declare permissions
    const requestId = fast.asked[0].requestId;
    expect(slow.asked.map((p) => p.requestId)).toEqual([requestId]);
    expect(await until(() => slow.cancelled.includes(requestId))).toBe(true);
    expect(fast.cancelled).toEqual([]);
    expect(events.map((e) => e.type)).toEqual(['permission_request', 'permission_resolved']);
    expect(events[1]).toMatchObject({ requestId, callId: 'call-1', outcome: 'allow_once', by: 'fast' });
    expect(broker.respond(requestId, 'deny', 'slow')).toBe(false);
    expect(events).toHaveLength(2);
  });

  it('an answer by permission/respond wins too and cancels every client request', async () => {
    const a = fakeClient('a', never);
    const b = fakeClient('b', never);
    const { broker, events } = makeBroker([a, b]);
    const p = broker.ask(question, new AbortController().signal);
    expect(await until(() => a.asked.length === 1 && b.asked.length === 1)).toBe(true);
    const requestId = a.asked[0].requestId;
    expect(broker.respond(requestId, 'deny', 'web-1')).toBe(true);
    expect(await p).toEqual({ outcome: 'deny', by: 'web-1' });
    expect(await until(() => a.cancelled.length === 1 && b.cancelled.length === 1)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'permission_resolved', outcome: 'deny', by: 'web-1' });
  });

  it('an allow the question did not offer counts as allow once (it would not take effect)', async () => {
    const a = fakeClient('a', never);
    const { broker, events } = makeBroker([a]);
    const p = broker.ask({ ...question, options: ['allow_once', 'deny'] }, new AbortController().signal);
    expect(await until(() => a.asked.length === 1)).toBe(true);
    expect(broker.respond(a.asked[0].requestId, 'allow_project', 'web-1')).toBe(true);
    expect(await p).toEqual({ outcome: 'allow_once', by: 'web-1' });
    expect(events.at(-1)).toMatchObject({ type: 'permission_resolved', outcome: 'allow_once' });
  });

  it('times out with outcome timeout and cancels the open requests', async () => {
    const a = fakeClient('a', never);
    const { broker, events } = makeBroker([a], 80);
    const answer = await broker.ask(question, new AbortController().signal);
    // Nobody ever answers, so the only way out is the timeout (its length is not asserted).
    expect(answer).toEqual({ outcome: 'timeout' });
    expect(a.asked).toHaveLength(1);
    expect(await until(() => a.cancelled.length === 1)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: 'permission_resolved', outcome: 'timeout' });
    expect(events.at(-1)).not.toHaveProperty('by');
  });

  it('settles as cancelled when the turn is cancelled, and at once for an already aborted signal', async () => {
    const a = fakeClient('a', never);
    const { broker, events } = makeBroker([a]);
    const ac = new AbortController();
    const p = broker.ask(question, ac.signal);
    expect(await until(() => a.asked.length === 1)).toBe(true);
    ac.abort();
    expect(await p).toEqual({ outcome: 'cancelled' });
    expect(await until(() => a.cancelled.length === 1)).toBe(true);
    expect(broker.size).toBe(0);

    const before = events.length;
    expect(await broker.ask(question, ac.signal)).toEqual({ outcome: 'cancelled' });
    expect(events.length).toBe(before); // nobody was asked
    expect(a.asked).toHaveLength(1);
  });

  it('cancelAll answers every open question cancelled', async () => {
    const a = fakeClient('a', never);
    const { broker } = makeBroker([a]);
    const p1 = broker.ask(question, new AbortController().signal);
    const p2 = broker.ask({ ...question, callId: 'call-2' }, new AbortController().signal);
    expect(broker.size).toBe(2);
    broker.cancelAll();
    expect(await Promise.all([p1, p2])).toEqual([{ outcome: 'cancelled' }, { outcome: 'cancelled' }]);
    expect(broker.size).toBe(0);
  });

  it('a client that errors or answers nonsense leaves the question to the others', async () => {
    const broken = fakeClient('broken', async () => {
      throw new ResponseError(-32603, 'client crashed');
    });
    const nonsense = fakeClient('nonsense', async () => ({ outcome: 'maybe' }));
    const person = fakeClient('person', after(100, 'deny'));
    const { broker, events } = makeBroker([broken, nonsense, person]);
    const answer = await broker.ask(question, new AbortController().signal);
    expect(answer).toEqual({ outcome: 'deny', by: 'person' });
    expect(broken.asked).toHaveLength(1);
    expect(nonsense.asked).toHaveLength(1);
    expect(events.filter((e) => e.type === 'permission_resolved')).toHaveLength(1);
  });

  it('offers open questions to a client that attaches later, once', async () => {
    const early = fakeClient('early', never);
    const clients = [early];
    const { broker } = makeBroker(clients);
    const p = broker.ask(question, new AbortController().signal);
    const late = fakeClient('late', after(0, 'allow_session'));
    clients.push(late);
    broker.offerTo(early.handle); // already asked: not asked twice
    broker.offerTo(late.handle);
    expect(await p).toEqual({ outcome: 'allow_session', by: 'late' });
    expect(early.asked).toHaveLength(1);
    expect(late.asked).toHaveLength(1);
    expect(await until(() => early.cancelled.length === 1)).toBe(true);
  });
});
