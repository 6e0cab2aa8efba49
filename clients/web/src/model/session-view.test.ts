import type { SessionEvent, SessionEventBody } from '@shadowbox/protocol';
import { describe, expect, it } from 'vitest';
import { SessionView, type SessionInfo } from './session-view.js';

const info: SessionInfo = {
  sessionId: 's',
  workspace: '/w',
  model: 'm',
  mode: 'review',
  title: '',
  createdAt: 't',
  updatedAt: 't',
  state: 'idle',
  driver: 'c1',
  attached: ['c1'],
  events: 0,
  prompts: 0,
};
let seq = 0;
const ev = (event: SessionEventBody, s = seq++): SessionEvent => ({
  sessionId: 's',
  seq: s,
  time: new Date(0).toISOString(),
  event,
});

describe('SessionView', () => {
  it('builds a transcript from a turn: user, streamed text, tool card, permission, final text', () => {
    seq = 0;
    const v = new SessionView(info);
    v.applyHistory(info, [
      ev({ type: 'session_created', workspace: '/w', model: 'm', mode: 'review' }),
      ev({ type: 'user_message', turnId: 't', text: 'fix it', clientId: 'c1' }),
      ev({ type: 'turn_start', turnId: 't', model: 'm' }),
      ev({ type: 'message_delta', turnId: 't', text: 'I will ' }),
      ev({ type: 'message_delta', turnId: 't', text: 'edit.' }),
      ev({
        type: 'assistant_message',
        turnId: 't',
        text: 'I will edit.',
        toolCalls: [{ callId: 'k', tool: 'edit_file', arguments: '{}' }],
      }),
      ev({
        type: 'tool_call',
        turnId: 't',
        callId: 'k',
        tool: 'edit_file',
        kind: 'edit',
        summary: 'edit a.txt',
        input: { path: 'a.txt' },
        status: 'pending',
      }),
      ev({ type: 'tool_call_update', turnId: 't', callId: 'k', status: 'awaiting_permission' }),
      ev({
        type: 'permission_request',
        turnId: 't',
        requestId: 'r',
        callId: 'k',
        tool: 'edit_file',
        kind: 'edit',
        summary: 'edit a.txt',
        input: {},
        rule: 'mode:review',
        options: ['allow_once', 'allow_session', 'allow_project', 'deny'],
      }),
    ]);
    expect(v.items.map((i) => i.kind)).toEqual(['notice', 'user', 'assistant', 'tool', 'permission']);
    expect(v.openPermissions().map((p) => p.id)).toEqual(['r']);
    // The attach answer wins over replayed state.
    expect(v.info.state).toBe('idle');
    const perm = v.get('r')!;
    const rev = perm.rev;
    v.receive(ev({ type: 'permission_resolved', requestId: 'r', callId: 'k', outcome: 'allow_once', by: 'c1' }));
    expect(v.get('r')!.rev).toBeGreaterThan(rev);
    expect(v.openPermissions()).toEqual([]);
    const reviewBefore = v.reviewRev;
    v.receive(
      ev({
        type: 'tool_call_update',
        turnId: 't',
        callId: 'k',
        status: 'completed',
        output: 'ok',
        changed: ['a.txt'],
        durationMs: 3,
      }),
    );
    expect(v.get('k')).toMatchObject({ status: 'completed', output: 'ok', changed: ['a.txt'] });
    expect(v.reviewRev).toBeGreaterThan(reviewBefore);
    v.receive(ev({ type: 'message_delta', turnId: 't', text: 'Done' }));
    v.receive(ev({ type: 'turn_end', turnId: 't', stopReason: 'end_turn' }));
    const texts = v.items
      .filter((i) => i.kind === 'assistant')
      .map((i) => (i.kind === 'assistant' ? [i.text, i.done] : null));
    expect(texts).toEqual([
      ['I will edit.', true],
      ['Done', true],
    ]);
    expect(v.running).toBeNull();
  });

  it('applies each seq once: live events before the attach answer wait, duplicates are dropped', () => {
    seq = 0;
    const v = new SessionView(info);
    const h = [
      ev({ type: 'user_message', turnId: 't', text: 'a', clientId: 'c1' }),
      ev({ type: 'turn_start', turnId: 't', model: 'm' }),
    ];
    const live1 = ev({ type: 'message_delta', turnId: 't', text: 'x' });
    const live2 = ev({ type: 'message_delta', turnId: 't', text: 'y' });
    expect(v.receive(live2)).toBe(false);
    expect(v.receive(h[1])).toBe(false);
    v.applyHistory({ ...info, state: 'running' }, [...h, live1]);
    const a = v.items.find((i) => i.kind === 'assistant');
    expect(a && a.kind === 'assistant' ? a.text : '').toBe('xy');
    expect(v.lastSeq).toBe(3);
    expect(v.receive(live1)).toBe(false);
  });

  it('resumes after a reconnect from lastSeq + 1 without duplicating', () => {
    seq = 0;
    const v = new SessionView(info);
    v.applyHistory(info, [ev({ type: 'user_message', turnId: 't', text: 'a', clientId: 'c1' })]);
    v.expectHistory();
    v.applyHistory({ ...info, driver: null, attached: [] }, [ev({ type: 'daemon_restarted', interruptedTurn: 't' })]);
    expect(v.items.map((i) => i.kind)).toEqual(['user', 'notice']);
    expect(v.info.driver).toBeNull();
  });

  it('tracks driver hand-over and attached clients', () => {
    seq = 0;
    const v = new SessionView(info);
    v.applyHistory(info, []);
    v.receive(ev({ type: 'client_attached', clientId: 'c2', name: 'shadowbox-terminal', kind: 'terminal' }));
    v.receive(ev({ type: 'driver_changed', driver: 'c2' }));
    expect(v.info).toMatchObject({ driver: 'c2', attached: ['c1', 'c2'] });
    v.receive(ev({ type: 'client_detached', clientId: 'c2' }));
    v.receive(ev({ type: 'driver_changed', driver: null }));
    expect(v.info).toMatchObject({ driver: null, attached: ['c1'] });
    expect(v.clients.get('c2')?.kind).toBe('terminal');
  });
});

describe('SessionView ordering and title', () => {
  it('puts a permission question right under its tool card and titles the session by its first prompt', () => {
    seq = 0;
    const v = new SessionView({ ...info, title: '' });
    v.applyHistory({ ...info, title: '' }, [
      ev({ type: 'user_message', turnId: 't', text: 'first line\nsecond', clientId: 'c1' }),
      ev({
        type: 'tool_call',
        turnId: 't',
        callId: 'k1',
        tool: 'edit_file',
        kind: 'edit',
        summary: 's',
        input: {},
        status: 'pending',
      }),
      ev({
        type: 'tool_call',
        turnId: 't',
        callId: 'k2',
        tool: 'read_file',
        kind: 'read',
        summary: 's',
        input: {},
        status: 'pending',
      }),
      ev({
        type: 'permission_request',
        turnId: 't',
        requestId: 'r1',
        callId: 'k1',
        tool: 'edit_file',
        kind: 'edit',
        summary: 's',
        input: {},
        rule: 'x',
        options: ['deny'],
      }),
    ]);
    expect(v.items.map((i) => i.id)).toEqual([v.items[0].id, 'k1', 'r1', 'k2']);
    expect(v.info.title).toBe('first line');
  });

  it("shows a client's direct call as a tool card with who ran it; its changed files refresh the review", () => {
    seq = 0;
    const v = new SessionView(info);
    const reviewBefore = v.reviewRev;
    v.applyHistory(info, [
      ev({
        type: 'tool_call',
        turnId: 'direct:c2',
        callId: 'd1',
        tool: 'write_file',
        kind: 'edit',
        summary: 'n.txt',
        input: {},
        status: 'pending',
        origin: 'client',
        clientId: 'c2',
      }),
      ev({
        type: 'tool_call_update',
        turnId: 'direct:c2',
        callId: 'd1',
        status: 'completed',
        changed: ['n.txt'],
        origin: 'client',
      }),
    ]);
    expect(v.items).toEqual([expect.objectContaining({ kind: 'tool', id: 'd1', by: 'c2', status: 'completed' })]);
    expect(v.reviewRev).toBeGreaterThan(reviewBefore);
  });
});
