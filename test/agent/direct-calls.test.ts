// A client's direct tools/call as session events: every attached client sees it (tool_call, running, the
// final tool_call_update with changed files, refusals failed with their reason), marked origin `client`; it
// stays out of the conversation the model sees, even during a model turn and after kill -9.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PolicySetRules,
  SessionAttach,
  SessionCreate,
  SessionPrompt,
  ToolsCall,
  type SessionEvent,
} from '@shadowbox/protocol';
import { makeTempDir, type TestDaemon, until } from '../helpers/daemon.js';
import { useModelDaemon } from '../helpers/model-daemon.js';

const ofCall = (es: SessionEvent[], callId: string) =>
  es.filter((e) => 'callId' in e.event && e.event.callId === callId).map((e) => e.event);
const ended = (es: SessionEvent[], callId: string) =>
  ofCall(es, callId).some((e) => e.type === 'tool_call_update' && (e.status === 'completed' || e.status === 'failed'));

describe('direct tool calls as session events', () => {
  const md = useModelDaemon();
  let d: TestDaemon;

  it("a second client sees the first client's direct call and its changed files; refusals end failed with their reason", async () => {
    d = await md.start();
    const ws = await makeTempDir('ws');
    const a = await d.connect('a');
    const b = await d.connect('b');
    const seen: SessionEvent[] = [];
    b.onEvent((e) => seen.push(e));
    const s = await a.request(SessionCreate, { workspace: ws });
    await b.request(SessionAttach, { sessionId: s.sessionId, fromSeq: Number.MAX_SAFE_INTEGER });

    const w = await a.request(ToolsCall, {
      sessionId: s.sessionId,
      tool: 'write_file',
      input: { path: 'n.txt', content: 'new\n' },
    });
    expect(w.isError).toBe(false);
    expect(await until(() => ended(seen, w.callId))).toBe(true);
    const events = ofCall(seen, w.callId);
    expect(events.map((e) => [e.type, 'status' in e ? e.status : undefined])).toEqual([
      ['tool_call', 'pending'],
      ['tool_call_update', 'running'],
      ['tool_call_update', 'completed'],
    ]);
    expect(events[0]).toMatchObject({
      tool: 'write_file',
      kind: 'edit',
      origin: 'client',
      clientId: a.clientId,
      turnId: `direct:${a.clientId}`,
      input: { path: 'n.txt', content: 'new\n' },
    });
    expect(events[2]).toMatchObject({ origin: 'client', changed: ['n.txt'], auditSeq: w.auditSeq });

    // Refusals: policy deny, unknown tool, invalid input — each a tool_call and a failed update with the reason.
    await a.request(PolicySetRules, {
      workspace: ws,
      add: [{ action: 'deny', tool: 'write_file', path: 'secret.txt' }],
    });
    const refusals = [
      { tool: 'write_file', input: { path: 'secret.txt', content: 'x' }, reason: 'policy_denied' },
      { tool: 'no_such_tool', input: {}, reason: 'unknown_tool' },
      { tool: 'write_file', input: { path: 7 }, reason: 'invalid_input' },
    ];
    for (const f of refusals) {
      const r = await a.request(ToolsCall, { sessionId: s.sessionId, tool: f.tool, input: f.input });
      expect(r).toMatchObject({ isError: true, reason: f.reason });
      expect(await until(() => ended(seen, r.callId))).toBe(true);
      const [start, ...rest] = ofCall(seen, r.callId);
      expect(start).toMatchObject({ type: 'tool_call', tool: f.tool, origin: 'client', status: 'pending' });
      expect(rest.at(-1)).toMatchObject({
        type: 'tool_call_update',
        status: 'failed',
        reason: f.reason,
        code: r.code,
        origin: 'client',
      });
      expect(rest.some((e) => e.type === 'tool_call_update' && e.status === 'running')).toBe(false);
      if (f.reason === 'policy_denied') expect(rest.at(-1)).toMatchObject({ decision: { action: 'deny' } });
    }

    // The history a client attaching later replays holds the same events.
    const c = await d.connect('c');
    const att = await c.request(SessionAttach, { sessionId: s.sessionId });
    expect(ofCall(att.history, w.callId)).toEqual(events);
  });

  it('a direct call during a model turn stays out of what the model sees; the log replays and prompts after kill -9', async () => {
    d = await md.start();
    const ws = await makeTempDir('ws');
    await writeFile(path.join(ws, 'a.txt'), 'alpha\n');
    const a = await d.connect('a', { permissions: true });
    await a.request(PolicySetRules, { workspace: ws, add: [{ action: 'ask', tool: 'write_file' }] });
    // The turn waits on a permission question; the direct call runs meanwhile; then the question is answered.
    let answer: (v: { outcome: 'allow_once' }) => void = () => undefined;
    const answered = new Promise<{ outcome: 'allow_once' }>((r) => (answer = r));
    let asked = 0;
    a.onPermission(async () => {
      asked++;
      return answered;
    });
    const seen: SessionEvent[] = [];
    a.onEvent((e) => seen.push(e));
    const s = await a.request(SessionCreate, { workspace: ws });
    md.model.push(
      { toolCalls: [{ name: 'write_file', arguments: { path: 'm.txt', content: 'model\n' } }] },
      { text: ['written'] },
      { text: ['again'] },
      { text: ['after the restart'] },
    );
    const before = md.model.requests.length;
    const turn = a.request(SessionPrompt, { sessionId: s.sessionId, text: 'write m.txt' });
    expect(await until(() => asked === 1)).toBe(true);
    const direct = await a.request(ToolsCall, { sessionId: s.sessionId, tool: 'read_file', input: { path: 'a.txt' } });
    expect(direct).toMatchObject({ isError: false });
    expect(direct.content).toContain('alpha');
    answer({ outcome: 'allow_once' });
    expect((await turn).stopReason).toBe('end_turn');
    // The model's second request carries its own call's result and nothing of the direct call.
    const second = JSON.stringify(md.model.requests[before + 1].body);
    expect(second).not.toContain(direct.callId);
    expect(second).not.toContain('alpha');
    const toolMessages = (body: unknown) =>
      ((body as { messages: Array<{ role: string }> }).messages ?? []).filter((m) => m.role === 'tool').length;
    expect(toolMessages(md.model.requests[before + 1].body)).toBe(1);
    // The direct call's events sit inside the turn's, marked; the turn's own events are unchanged.
    const turnStart = seen.findIndex((e) => e.event.type === 'turn_start');
    const directStart = seen.findIndex((e) => e.event.type === 'tool_call' && e.event.callId === direct.callId);
    const turnEnd = seen.findIndex((e) => e.event.type === 'turn_end');
    expect(turnStart).toBeLessThan(directStart);
    expect(directStart).toBeLessThan(turnEnd);
    expect(seen[directStart].event).toMatchObject({ origin: 'client', turnId: `direct:${a.clientId}` });
    const modelCalls = seen.flatMap((e) =>
      e.event.type === 'tool_call' && e.event.origin !== 'client' ? [e.event.turnId] : [],
    );
    expect(modelCalls).toEqual([seen[turnStart].event.type === 'turn_start' ? seen[turnStart].event.turnId : '']);

    expect((await a.request(SessionPrompt, { sessionId: s.sessionId, text: 'once more' })).stopReason).toBe('end_turn');
    expect(toolMessages(md.model.requests.at(-1)!.body)).toBe(1);
    expect(JSON.stringify(md.model.requests.at(-1)!.body)).not.toContain(direct.callId);

    // After kill -9 the conversation is rebuilt from the log: the direct call is still left out.
    await d.kill();
    d = await md.start();
    const b = await d.connect('b');
    const att = await b.request(SessionAttach, { sessionId: s.sessionId, driver: true });
    expect(att.history.some((e) => e.event.type === 'tool_call' && e.event.callId === direct.callId)).toBe(true);
    expect((await b.request(SessionPrompt, { sessionId: s.sessionId, text: 'and now' })).stopReason).toBe('end_turn');
    expect(toolMessages(md.model.requests.at(-1)!.body)).toBe(1);
    expect(JSON.stringify(md.model.requests.at(-1)!.body)).not.toContain(direct.callId);
  });

  it('a direct call the daemon lost (kill -9 while it awaited a question) ends failed as interrupted after the restart', async () => {
    d = await md.start();
    const ws = await makeTempDir('ws');
    const a = await d.connect('a', { permissions: true });
    await a.request(PolicySetRules, { workspace: ws, add: [{ action: 'ask', tool: 'write_file' }] });
    let asked = 0;
    a.onPermission(async () => {
      asked++;
      return new Promise(() => undefined); // never answers: the crash comes first
    });
    const seen: SessionEvent[] = [];
    a.onEvent((e) => seen.push(e));
    const s = await a.request(SessionCreate, { workspace: ws });
    void a
      .request(ToolsCall, { sessionId: s.sessionId, tool: 'write_file', input: { path: 'q.txt', content: 'q\n' } })
      .catch(() => undefined);
    expect(await until(() => asked === 1)).toBe(true);
    const start = seen.find((e) => e.event.type === 'tool_call')?.event;
    expect(start).toMatchObject({ origin: 'client', tool: 'write_file' });
    const callId = start?.type === 'tool_call' ? start.callId : '';
    expect(ofCall(seen, callId).filter((e) => e.type === 'tool_call_update')).toEqual([
      expect.objectContaining({ status: 'awaiting_permission', origin: 'client' }),
    ]);
    await d.kill();

    d = await md.start();
    const b = await d.connect('b');
    const att = await b.request(SessionAttach, { sessionId: s.sessionId });
    expect(ofCall(att.history, callId).at(-1)).toMatchObject({
      type: 'tool_call_update',
      status: 'failed',
      reason: 'interrupted',
      origin: 'client',
    });
    // The session is not taken for a crashed turn: nothing is asked again, and it prompts.
    expect(att.history.some((e) => e.event.type === 'daemon_restarted')).toBe(false);
    md.model.push({ text: ['fine'] });
    expect((await b.request(SessionPrompt, { sessionId: s.sessionId, text: 'hi' })).stopReason).toBe('end_turn');
  });
});
