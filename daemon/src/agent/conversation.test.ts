// historyFromEvents: the conversation rebuilt from a session's log must be one a provider accepts
// (every assistant tool call followed by its result), including after a crash or a max_tokens cut.
import { describe, expect, it } from 'vitest';
import type { SessionEvent, SessionEventBody } from '@shadowbox/protocol';
import { Conversation, CUT_OFF_RESULT, historyFromEvents, INTERRUPTED_RESULT } from './conversation.js';
import type { ChatMessage } from '../providers/index.js';

function log(bodies: SessionEventBody[]): SessionEvent[] {
  return bodies.map((event, seq) => ({ sessionId: 's', seq, time: '2026-01-01T00:00:00.000Z', event }));
}

/** Every tool call of an assistant message has exactly one result before the next user or assistant message. */
function wellFormed(history: ChatMessage[]): boolean {
  for (let i = 0; i < history.length; i++) {
    const m = history[i];
    if (m.role !== 'assistant' || !m.toolCalls?.length) continue;
    const results: string[] = [];
    for (let j = i + 1; j < history.length && history[j].role === 'tool'; j++)
      results.push((history[j] as { toolCallId: string }).toolCallId);
    if (results.length !== m.toolCalls.length || !m.toolCalls.every((c) => results.includes(c.id))) return false;
  }
  return true;
}

const call = (callId: string, tool = 'python') => ({ callId, tool, arguments: '{}' });

describe('historyFromEvents', () => {
  it('rebuilds user, assistant and tool messages in order and reports no open turn after turn_end', () => {
    const s = historyFromEvents(
      log([
        { type: 'user_message', turnId: 't1', text: 'hi', clientId: 'c1' },
        { type: 'turn_start', turnId: 't1', model: 'm' },
        {
          type: 'assistant_message',
          turnId: 't1',
          text: 'reading',
          toolCalls: [call('a', 'read_file'), call('b', 'read_file')],
        },
        { type: 'tool_call_update', turnId: 't1', callId: 'a', status: 'running' },
        {
          type: 'tool_call_update',
          turnId: 't1',
          callId: 'b',
          status: 'failed',
          content: 'no such file',
          durationMs: 1,
        },
        {
          type: 'tool_call_update',
          turnId: 't1',
          callId: 'a',
          status: 'completed',
          content: '1\thello',
          durationMs: 1,
        },
        { type: 'assistant_message', turnId: 't1', text: 'done', toolCalls: [] },
        { type: 'turn_end', turnId: 't1', stopReason: 'end_turn' },
      ]),
    );
    expect(s.openTurn).toBeNull();
    expect(s.unresolvedCalls).toEqual([]);
    expect(s.history).toEqual([
      { role: 'user', content: 'hi' },
      {
        role: 'assistant',
        content: 'reading',
        toolCalls: [
          { id: 'a', name: 'read_file', arguments: '{}' },
          { id: 'b', name: 'read_file', arguments: '{}' },
        ],
      },
      // In call order, though b finished first.
      { role: 'tool', toolCallId: 'a', name: 'read_file', content: '1\thello' },
      { role: 'tool', toolCallId: 'b', name: 'read_file', content: 'no such file', isError: true },
      { role: 'assistant', content: 'done' },
    ]);
  });

  it('a crash while a call ran: the open turn and the unresolved call are reported; once the turn is closed the call has an interrupted result', () => {
    const crashed: SessionEventBody[] = [
      { type: 'user_message', turnId: 't1', text: 'spin', clientId: 'c1' },
      { type: 'turn_start', turnId: 't1', model: 'm' },
      { type: 'assistant_message', turnId: 't1', text: '', toolCalls: [call('x')] },
      { type: 'tool_call_update', turnId: 't1', callId: 'x', status: 'running' },
    ];
    const open = historyFromEvents(log(crashed));
    expect(open.openTurn).toBe('t1');
    expect(open.unresolvedCalls).toEqual([{ id: 'x', name: 'python', arguments: '{}', awaitingPermission: false }]);

    // What recovery appends: the turn ends interrupted.
    const closed = historyFromEvents(
      log([
        ...crashed,
        { type: 'turn_end', turnId: 't1', stopReason: 'interrupted' },
        { type: 'daemon_restarted', interruptedTurn: 't1' },
        { type: 'user_message', turnId: 't2', text: 'what happened?', clientId: 'c1' },
      ]),
    );
    expect(closed.openTurn).toBeNull();
    expect(closed.unresolvedCalls).toEqual([]);
    expect(wellFormed(closed.history)).toBe(true);
    expect(closed.history[2]).toEqual({
      role: 'tool',
      toolCallId: 'x',
      name: 'python',
      content: INTERRUPTED_RESULT,
      isError: true,
    });
    expect(closed.history.at(-1)).toEqual({ role: 'user', content: 'what happened?' });
  });

  it('a call awaiting a question stays unresolved for recovery to resume; a running sibling gets one result, not two', () => {
    const events: SessionEventBody[] = [
      { type: 'user_message', turnId: 't1', text: 'go', clientId: 'c1' },
      { type: 'turn_start', turnId: 't1', model: 'm' },
      { type: 'assistant_message', turnId: 't1', text: '', toolCalls: [call('run'), call('ask', 'write_file')] },
      { type: 'tool_call_update', turnId: 't1', callId: 'run', status: 'running' },
      { type: 'tool_call_update', turnId: 't1', callId: 'ask', status: 'awaiting_permission' },
    ];
    const open = historyFromEvents(log(events));
    expect(open.unresolvedCalls.map((c) => [c.id, c.awaitingPermission])).toEqual([
      ['run', false],
      ['ask', true],
    ]);
    // Recovery: turn_end, then a failed update for the running call, then the resumed turn answers the question.
    const recovered = [
      ...events,
      { type: 'turn_end', turnId: 't1', stopReason: 'interrupted' },
      {
        type: 'tool_call_update',
        turnId: 't1',
        callId: 'run',
        status: 'failed',
        content: INTERRUPTED_RESULT,
        durationMs: 0,
      },
    ] satisfies SessionEventBody[];
    const mid = historyFromEvents(log(recovered));
    expect(mid.history.filter((m) => m.role === 'tool').map((m) => (m as { toolCallId: string }).toolCallId)).toEqual([
      'run',
    ]);
    const done = historyFromEvents(
      log([
        ...recovered,
        { type: 'turn_start', turnId: 't2', model: 'm' },
        { type: 'permission_resolved', requestId: 'r', callId: 'ask', outcome: 'allow_once' },
        { type: 'tool_call_update', turnId: 't2', callId: 'ask', status: 'completed', content: 'wrote', durationMs: 3 },
        { type: 'turn_end', turnId: 't2', stopReason: 'end_turn' },
      ]),
    );
    expect(wellFormed(done.history)).toBe(true);
    expect(done.history.filter((m) => m.role === 'tool').map((m) => (m as { toolCallId: string }).toolCallId)).toEqual([
      'run',
      'ask',
    ]);
  });

  it('calls cut off by max_tokens get the same result after a restart as the loop gave them in memory', () => {
    const s = historyFromEvents(
      log([
        { type: 'user_message', turnId: 't1', text: 'write a lot', clientId: 'c1' },
        { type: 'turn_start', turnId: 't1', model: 'm' },
        { type: 'assistant_message', turnId: 't1', text: 'Here goes', toolCalls: [call('cut', 'write_file')] },
        { type: 'turn_end', turnId: 't1', stopReason: 'max_tokens' },
        { type: 'user_message', turnId: 't2', text: 'shorter please', clientId: 'c1' },
      ]),
    );
    expect(wellFormed(s.history)).toBe(true);
    expect(s.history[2]).toEqual({
      role: 'tool',
      toolCallId: 'cut',
      name: 'write_file',
      content: CUT_OFF_RESULT,
      isError: true,
    });
  });

  it("leaves a client's direct calls out (mid-turn too, and old logs without origin) and reports those a crash left open", () => {
    const direct = (callId: string, origin?: 'client') =>
      [
        {
          type: 'tool_call',
          turnId: 'direct:c2',
          callId,
          tool: 'read_file',
          kind: 'read',
          summary: 'a',
          input: {},
          status: 'pending',
          ...(origin ? { origin } : {}),
        },
        {
          type: 'tool_call_update',
          turnId: 'direct:c2',
          callId,
          status: 'completed',
          content: 'secret',
          ...(origin ? { origin } : {}),
        },
      ] as SessionEventBody[];
    const c = Conversation.fromEvents(
      log([
        { type: 'user_message', turnId: 't1', text: 'hi', clientId: 'c1' },
        { type: 'turn_start', turnId: 't1', model: 'm' },
        { type: 'assistant_message', turnId: 't1', text: '', toolCalls: [call('a', 'read_file')] },
        ...direct('d1', 'client'),
        ...direct('d2'),
        { type: 'tool_call_update', turnId: 't1', callId: 'a', status: 'completed', content: 'ok' },
        { type: 'turn_end', turnId: 't1', stopReason: 'end_turn' },
        {
          type: 'tool_call',
          turnId: 'direct:c2',
          callId: 'd3',
          tool: 'shell',
          kind: 'execute',
          summary: 'x',
          input: {},
          status: 'pending',
          origin: 'client',
        },
      ]),
    );
    expect(c.history.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(JSON.stringify(c.history)).not.toContain('secret');
    expect(wellFormed(c.history)).toBe(true);
    expect(c.openTurn).toBeNull();
    expect(c.openDirectCalls).toEqual([{ callId: 'd3', turnId: 'direct:c2' }]);
  });
});
