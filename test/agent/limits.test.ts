// The agent loop's limits and edges through a real daemon: the context budget elides old tool output,
// max_turns, cancel while a sandboxed tool runs, several tool calls in one model turn, a crash with
// no pending question, and two prompts sent at once on one session.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ErrorCodes,
  SessionAttach,
  SessionCancel,
  SessionCreate,
  SessionPrompt,
  type SessionEvent,
} from '@shadowbox/protocol';
import { COMPACT_SYSTEM } from '../../daemon/src/agent/compact.js';
import { ELIDED_PREFIX } from '../../daemon/src/agent/context.js';
import { makeTempDir, repoRoot, startTestDaemon, type TestDaemon, until } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, type RecordedRequest, openaiEnv } from '../model-server/index.js';

/** The OpenAI-format messages of a recorded request. */
function messagesOf(req: RecordedRequest): Array<{ role: string; content?: unknown; tool_call_id?: string }> {
  return (req.body as { messages: Array<{ role: string; content?: unknown; tool_call_id?: string }> }).messages;
}
const toolMessages = (req: RecordedRequest) => messagesOf(req).filter((m) => m.role === 'tool');
const text = (m: { content?: unknown }) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content));

/** Updates of one tool call, in order. */
const updates = (seen: SessionEvent[], callId: string) =>
  seen.flatMap((e) =>
    e.event.type === 'tool_call_update' && e.event.callId === callId ? [{ seq: e.seq, ...e.event }] : [],
  );

let model: ModelServer;
const env = (extra: Record<string, string> = {}) => ({
  ...openaiEnv(model, 'openai/t'),
  ...extra,
});

beforeAll(async () => {
  model = await startModelServer();
});
afterAll(async () => {
  await model?.close();
});

/** A compaction request (its system prompt is COMPACT_SYSTEM). */
const isCompaction = (r: RecordedRequest) => {
  const first = messagesOf(r)[0];
  return first?.role === 'system' && text(first) === COMPACT_SYSTEM;
};

describe('context budget', () => {
  let d: TestDaemon;
  // Its own model: compaction calls get an empty answer (no summary), so elision is what keeps the window.
  let budgetModel: ModelServer;
  beforeAll(async () => {
    budgetModel = await startModelServer({ onRequest: (r) => (isCompaction(r) ? { text: [] } : undefined) });
    d = await startTestDaemon({
      web: false,
      env: { ...env({ SHADOWBOX_CONTEXT_WINDOW: '10800' }), OPENAI_BASE_URL: `${budgetModel.url}/v1` },
    });
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
    await budgetModel?.close();
  });

  it('elides the oldest tool output when the conversation outgrows the window and compaction yields no summary, and keeps the latest', async () => {
    const model = budgetModel;
    const ws = await makeTempDir('ws');
    // Three files of ~8 KB (~2,000 tokens) each. A 10,800-token window leaves 80% = 8,640 tokens, of which the
    // system prompt and the tools' schemas take ~3,600 (large files keep the test valid as tools are added):
    // two outputs fit, three do not.
    for (const name of ['a', 'b', 'c']) {
      const lines = Array.from(
        { length: 130 },
        (_, i) => `${name.toUpperCase()}-MARK line ${String(i).padStart(2, '0')} ${'x'.repeat(40)}`,
      );
      await writeFile(path.join(ws, `${name}.txt`), `${lines.join('\n')}\n`);
    }
    const c = await d.connect();
    const s = await c.request(SessionCreate, { workspace: ws });
    model.push(
      { toolCalls: [{ id: 'call_a', name: 'read_file', arguments: { path: 'a.txt' } }] },
      { toolCalls: [{ id: 'call_b', name: 'read_file', arguments: { path: 'b.txt' } }] },
      { toolCalls: [{ id: 'call_c', name: 'read_file', arguments: { path: 'c.txt' } }] },
      { text: ['read all three'] },
    );
    const before = model.requests.length;
    const r = await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'read a, b and c' });
    expect(r.stopReason).toBe('end_turn');
    const all = model.requests.slice(before);
    // Near the window the loop asked for a summary first; with none, the conversation stays whole.
    expect(all.some(isCompaction)).toBe(true);
    const reqs = all.filter((r) => !isCompaction(r));
    expect(reqs).toHaveLength(4);

    // Two outputs fit: nothing elided yet.
    const third = toolMessages(reqs[2]);
    expect(third.map((m) => m.tool_call_id)).toEqual(['call_a', 'call_b']);
    expect(text(third[0])).toContain('A-MARK line 129');
    expect(text(third[1])).toContain('B-MARK line 129');

    // Three do not: the oldest is replaced by the marker, the newest is sent whole.
    const fourth = toolMessages(reqs[3]);
    expect(fourth.map((m) => m.tool_call_id)).toEqual(['call_a', 'call_b', 'call_c']);
    expect(text(fourth[0]).startsWith(ELIDED_PREFIX)).toBe(true);
    expect(text(fourth[0])).not.toContain('A-MARK');
    expect(text(fourth[2])).toContain('C-MARK line 00');
    expect(text(fourth[2])).toContain('C-MARK line 129');
    // The user's prompt is never elided.
    expect(messagesOf(reqs[3]).some((m) => m.role === 'user' && text(m).includes('read a, b and c'))).toBe(true);

    // The session's own history keeps the full output (a reattaching client sees it).
    const att = await c.request(SessionAttach, { sessionId: s.sessionId, fromSeq: 0 });
    const aDone = att.history.find(
      (e) => e.event.type === 'tool_call_update' && e.event.callId === 'call_a' && e.event.status === 'completed',
    );
    expect(aDone && aDone.event.type === 'tool_call_update' ? aDone.event.content : '').toContain('A-MARK line 129');
    expect(att.history.some((e) => e.event.type === 'compaction')).toBe(false);
    c.dispose();
  });
});

describe('limits and concurrency on one daemon', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await startTestDaemon({ web: false, env: env() });
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
  });

  it('stops with max_turns after the allowed model turns, with every requested tool call answered', async () => {
    const ws = await makeTempDir('ws');
    await writeFile(path.join(ws, 'loop.txt'), 'again\n');
    const c = await d.connect();
    const seen: SessionEvent[] = [];
    c.onEvent((e) => seen.push(e));
    const s = await c.request(SessionCreate, { workspace: ws });
    model.push(
      { toolCalls: [{ name: 'read_file', arguments: { path: 'loop.txt' } }] },
      { toolCalls: [{ name: 'read_file', arguments: { path: 'loop.txt' } }] },
    );
    const before = model.requests.length;
    const r = await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'keep reading', maxTurns: 2 });
    expect(r.stopReason).toBe('max_turns');
    expect(model.requests.length - before).toBe(2);
    expect(model.pending()).toBe(0);
    expect(seen.filter((e) => e.event.type === 'tool_call_update' && e.event.status === 'completed')).toHaveLength(2);
    expect(await until(() => seen.some((e) => e.event.type === 'turn_end'))).toBe(true);
    expect(seen.find((e) => e.event.type === 'turn_end')?.event).toMatchObject({ stopReason: 'max_turns' });

    // The next prompt carries both results: the conversation stayed well-formed.
    model.push({ text: ['ok'] });
    expect((await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'stop now' })).stopReason).toBe('end_turn');
    expect(toolMessages(model.requests.at(-1)!)).toHaveLength(2);
    c.dispose();
  });

  it('cancels a running sandboxed tool promptly; the call is failed as cancelled and the session works afterwards', async () => {
    if (!existsSync(path.join(repoRoot, 'bundles/out/python')))
      throw new Error('bundle python is not built: run `node bundles/scripts/build.mjs python`');
    const ws = await makeTempDir('ws');
    const c = await d.connect();
    const seen: SessionEvent[] = [];
    c.onEvent((e) => seen.push(e));
    const s = await c.request(SessionCreate, { workspace: ws });
    model.push({
      text: ['Thinking hard.'],
      toolCalls: [
        { id: 'call_spin', name: 'python', arguments: { code: 'while True:\n    pass\n', timeoutMs: 120_000 } },
      ],
    });
    const p = c.request(SessionPrompt, { sessionId: s.sessionId, text: 'spin' });
    expect(await until(() => updates(seen, 'call_spin').some((u) => u.status === 'running'), 60_000)).toBe(true);
    // The guest spins for 120 s (longer than the test may take): the prompt returning at all is the cancel's doing.
    expect((await c.request(SessionCancel, { sessionId: s.sessionId })).cancelled).toBe(true);
    const r = await p;
    expect(r.stopReason).toBe('cancelled');
    expect(await until(() => updates(seen, 'call_spin').some((u) => u.status === 'failed'))).toBe(true);
    const last = updates(seen, 'call_spin').at(-1)!;
    expect(last).toMatchObject({ status: 'failed', reason: 'cancelled' });
    expect(last.code).toBe(ErrorCodes.RequestCancelled);

    // Usable afterwards: a python call runs to completion, and the model sees the cancelled call's result.
    model.push({ toolCalls: [{ id: 'call_ok', name: 'python', arguments: { code: 'print(6*7)' } }] }, { text: ['42'] });
    const before = model.requests.length;
    const r2 = await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'now something quick' });
    expect(r2.stopReason).toBe('end_turn');
    const ok = updates(seen, 'call_ok').at(-1)!;
    expect(ok).toMatchObject({ status: 'completed' });
    expect(JSON.stringify(ok)).toContain('42');
    const sentFirst = model.requests[before];
    expect(toolMessages(sentFirst).map((m) => m.tool_call_id)).toContain('call_spin');
    c.dispose();
  }, 120_000);

  it('runs several tool calls of one model turn: reads together, the write after them, results back in call order', async () => {
    const ws = await makeTempDir('ws');
    await writeFile(path.join(ws, 'big.txt'), Array.from({ length: 5000 }, (_, i) => `big line ${i}`).join('\n'));
    await writeFile(path.join(ws, 'small.txt'), 'small\n');
    const c = await d.connect();
    const seen: SessionEvent[] = [];
    c.onEvent((e) => seen.push(e));
    const s = await c.request(SessionCreate, { workspace: ws });
    model.push(
      {
        toolCalls: [
          { id: 'call_big', name: 'read_file', arguments: { path: 'big.txt', limit: 5000 } },
          { id: 'call_small', name: 'read_file', arguments: { path: 'small.txt' } },
          { id: 'call_write', name: 'write_file', arguments: { path: 'out.txt', content: 'both read\n' } },
        ],
      },
      { text: ['done'] },
    );
    const before = model.requests.length;
    const r = await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'read both, then write' });
    expect(r.stopReason).toBe('end_turn');

    const sent = toolMessages(model.requests[before + 1]);
    expect(sent.map((m) => m.tool_call_id)).toEqual(['call_big', 'call_small', 'call_write']);
    expect(text(sent[0])).toContain('big line 4999');
    expect(text(sent[1])).toContain('small');

    const seqOf = (callId: string, status: string) =>
      updates(seen, callId).find((u) => u.status === status)?.seq ?? Number.NaN;
    // Both reads started before either finished: they ran together.
    const firstDone = Math.min(seqOf('call_big', 'completed'), seqOf('call_small', 'completed'));
    expect(seqOf('call_big', 'running')).toBeLessThan(firstDone);
    expect(seqOf('call_small', 'running')).toBeLessThan(firstDone);
    // The write is not concurrent-safe: it started only after both reads had finished.
    expect(seqOf('call_write', 'running')).toBeGreaterThan(
      Math.max(seqOf('call_big', 'completed'), seqOf('call_small', 'completed')),
    );
    expect(seqOf('call_write', 'completed')).toBeGreaterThan(seqOf('call_write', 'running'));
    c.dispose();
  });

  it('refuses a second prompt sent at the same time on one session with SessionBusy; exactly one runs', async () => {
    const ws = await makeTempDir('ws');
    const c = await d.connect();
    const seen: SessionEvent[] = [];
    c.onEvent((e) => seen.push(e));
    const s = await c.request(SessionCreate, { workspace: ws });
    model.push({ text: ['one ', 'answer'], delayMs: 50 });
    const before = model.requests.length;
    const results = await Promise.allSettled([
      c.request(SessionPrompt, { sessionId: s.sessionId, text: 'first' }),
      c.request(SessionPrompt, { sessionId: s.sessionId, text: 'second' }),
    ]);
    const ok = results.filter((x) => x.status === 'fulfilled');
    const refused = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect((ok[0] as PromiseFulfilledResult<{ stopReason: string }>).value.stopReason).toBe('end_turn');
    expect(refused[0].reason).toMatchObject({ code: ErrorCodes.SessionBusy, data: { reason: 'turn_running' } });
    expect(model.requests.length - before).toBe(1);
    expect(await until(() => seen.some((e) => e.event.type === 'turn_end'))).toBe(true);
    expect(seen.filter((e) => e.event.type === 'user_message')).toHaveLength(1);
    expect(seen.filter((e) => e.event.type === 'turn_start')).toHaveLength(1);

    // Once the turn is over the session takes the next prompt.
    model.push({ text: ['two'] });
    expect((await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'third' })).stopReason).toBe('end_turn');
    c.dispose();
  });
});

describe('crash with no pending question', () => {
  let d: TestDaemon;
  let stateDir: string;
  beforeAll(async () => {
    stateDir = await makeTempDir('state');
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
  });

  it('marks the open turn interrupted after kill -9, records the restart, and takes a new prompt', async () => {
    d = await startTestDaemon({ web: false, stateDir, env: env() });
    const ws = await makeTempDir('ws');
    const a = await d.connect('a');
    const seen: SessionEvent[] = [];
    a.onEvent((e) => seen.push(e));
    const s = await a.request(SessionCreate, { workspace: ws });
    // The stream never ends (hang): the kill below comes mid-turn however slow the machine (100 chunks × 50 ms could
    // all have been sent first).
    model.push({ text: Array.from({ length: 100 }, (_, i) => `slow${i} `), delayMs: 50, hang: true });
    void a.request(SessionPrompt, { sessionId: s.sessionId, text: 'talk slowly' }).catch(() => undefined);
    expect(await until(() => seen.filter((e) => e.event.type === 'message_delta').length >= 3)).toBe(true);
    const start = seen.find((e) => e.event.type === 'turn_start')?.event;
    const turnId = start?.type === 'turn_start' ? start.turnId : 'missing';
    await d.kill();
    const log = await readFile(path.join(stateDir, 'sessions', s.sessionId, 'events.jsonl'), 'utf8');
    expect(log).not.toContain('"turn_end"');

    d = await startTestDaemon({ web: false, stateDir, env: env() });
    const b = await d.connect('b');
    const att = await b.request(SessionAttach, { sessionId: s.sessionId, fromSeq: 0, driver: true });
    const history = att.history.map((e) => e.event);
    const end = history.find((e) => e.type === 'turn_end');
    expect(end).toMatchObject({ turnId, stopReason: 'interrupted', error: { reason: 'daemon_restarted' } });
    expect(history.find((e) => e.type === 'daemon_restarted')).toMatchObject({ interruptedTurn: turnId });
    expect(history.filter((e) => e.type === 'turn_end')).toHaveLength(1);
    expect(att.session.state).toBe('idle');
    // The model was not asked again by the recovery: the next request it gets is the next prompt's.
    const afterRestart = model.requests.length;

    model.push({ text: ['back again'] });
    const r = await b.request(SessionPrompt, { sessionId: s.sessionId, text: 'are you there?' });
    expect(r.stopReason).toBe('end_turn');
    expect(model.requests.slice(afterRestart)).toHaveLength(1);
    expect(JSON.stringify(model.requests.at(-1)?.body)).toContain('are you there?');
    // The interrupted turn's user message is part of the conversation the model sees.
    expect(
      messagesOf(model.requests.at(-1)!)
        .filter((m) => m.role === 'user')
        .map(text),
    ).toEqual(expect.arrayContaining(['talk slowly', 'are you there?']));
  });

  it('after kill -9 while a tool runs, the next model request still answers every tool call the model made', async () => {
    if (!existsSync(path.join(repoRoot, 'bundles/out/python')))
      throw new Error('bundle python is not built: run `node bundles/scripts/build.mjs python`');
    await d.stop();
    d = await startTestDaemon({ web: false, stateDir, env: env() });
    const ws = await makeTempDir('ws');
    const a = await d.connect('a');
    const seen: SessionEvent[] = [];
    a.onEvent((e) => seen.push(e));
    const s = await a.request(SessionCreate, { workspace: ws });
    model.push({
      toolCalls: [
        { id: 'call_crash', name: 'python', arguments: { code: 'while True:\n    pass\n', timeoutMs: 120_000 } },
      ],
    });
    void a.request(SessionPrompt, { sessionId: s.sessionId, text: 'spin forever' }).catch(() => undefined);
    expect(await until(() => updates(seen, 'call_crash').some((u) => u.status === 'running'), 60_000)).toBe(true);
    await d.kill();

    d = await startTestDaemon({ web: false, stateDir, env: env() });
    const b = await d.connect('b');
    await b.request(SessionAttach, { sessionId: s.sessionId, fromSeq: Number.MAX_SAFE_INTEGER, driver: true });
    model.push({ text: ['I will not run that again.'] });
    const before = model.requests.length;
    expect((await b.request(SessionPrompt, { sessionId: s.sessionId, text: 'what happened?' })).stopReason).toBe(
      'end_turn',
    );
    const msgs = messagesOf(model.requests[before]);
    // Providers refuse an assistant tool call without its result: the interrupted call has one, before the new prompt.
    const callIdx = msgs.findIndex((m) => m.role === 'assistant' && JSON.stringify(m).includes('call_crash'));
    const resultIdx = msgs.findIndex((m) => m.role === 'tool' && m.tool_call_id === 'call_crash');
    const promptIdx = msgs.findIndex((m) => m.role === 'user' && text(m) === 'what happened?');
    expect(callIdx).toBeGreaterThan(0);
    expect(resultIdx).toBe(callIdx + 1);
    expect(text(msgs[resultIdx])).toMatch(/interrupted/i);
    expect(promptIdx).toBeGreaterThan(resultIdx);
  }, 120_000);
});
