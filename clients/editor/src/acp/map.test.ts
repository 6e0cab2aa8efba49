import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '@shadowbox/protocol';
import {
  acpStopReason,
  locationsOf,
  notificationsFor,
  permissionAnswer,
  permissionOptions,
  promptText,
  toAcpUpdates,
  turnUsage,
} from './map.js';

const ws = '/work/ws';
let seq = 0;
const ev = (event: SessionEvent['event']): SessionEvent => ({
  sessionId: 's1',
  seq: seq++,
  time: '2026-01-01T00:00:00Z',
  event,
});

describe('toAcpUpdates', () => {
  it('streams text and reasoning as agent_message_chunk / agent_thought_chunk', () => {
    expect(toAcpUpdates(ev({ type: 'message_delta', turnId: 't', text: 'Hel' }), ws)).toEqual([
      { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: 'Hel' } },
    ]);
    expect(toAcpUpdates(ev({ type: 'reasoning_delta', turnId: 't', text: 'think' }), ws)).toEqual([
      { sessionUpdate: 'agent_thought_chunk', content: { type: 'text', text: 'think' } },
    ]);
  });

  it('shows a retried model call as a thought line (URL, cause, attempt), so the editor does not look stuck', () => {
    const e = ev({
      type: 'model_retry',
      turnId: 't',
      attempt: 2,
      maxAttempts: 4,
      url: 'http://127.0.0.1:11434/v1/chat/completions',
      reason: 'network',
      message: 'connect ECONNREFUSED 127.0.0.1:11434',
    });
    expect(toAcpUpdates(e, ws)).toEqual([
      {
        sessionUpdate: 'agent_thought_chunk',
        content: {
          type: 'text',
          text: '↻ the model call failed (connect ECONNREFUSED 127.0.0.1:11434) at http://127.0.0.1:11434/v1/chat/completions; retrying, attempt 2 of 4\n',
        },
      },
    ]);
  });

  it('echoes the person’s message only when replaying a session (session/load)', () => {
    const e = ev({ type: 'user_message', turnId: 't', text: 'fix it', clientId: 'c1' });
    expect(toAcpUpdates(e, ws)).toEqual([]);
    expect(toAcpUpdates(e, ws, [], true)).toEqual([
      { sessionUpdate: 'user_message_chunk', content: { type: 'text', text: 'fix it' } },
    ]);
  });

  it('opens a tool_call with its ACP kind, title, raw input and absolute locations', () => {
    const [u] = toAcpUpdates(
      ev({
        type: 'tool_call',
        turnId: 't',
        callId: 'k1',
        tool: 'edit_file',
        kind: 'edit',
        summary: 'edit src/a.ts',
        input: { path: 'src/a.ts', old: 'x', new: 'y' },
        status: 'pending',
      }),
      ws,
    );
    expect(u).toEqual({
      sessionUpdate: 'tool_call',
      toolCallId: 'k1',
      title: 'edit src/a.ts',
      name: 'edit_file',
      kind: 'edit',
      status: 'pending',
      rawInput: { path: 'src/a.ts', old: 'x', new: 'y' },
      locations: [{ path: '/work/ws/src/a.ts' }],
    });
  });

  it("marks a client's direct call (origin client) in its title and _meta", () => {
    const [u] = toAcpUpdates(
      ev({
        type: 'tool_call',
        turnId: 'direct:c2',
        callId: 'direct-1',
        tool: 'shell',
        kind: 'execute',
        summary: 'npm test',
        input: { command: 'npm test' },
        status: 'pending',
        origin: 'client',
        clientId: 'c2',
      }),
      ws,
    );
    expect(u).toMatchObject({
      sessionUpdate: 'tool_call',
      title: 'npm test (run by a client)',
      _meta: { shadowbox: { origin: 'client', clientId: 'c2' } },
    });
  });

  it('maps every shadowbox tool kind to a valid ACP kind', () => {
    const acpKinds = ['read', 'edit', 'delete', 'move', 'search', 'execute', 'think', 'fetch', 'switch_mode', 'other'];
    for (const kind of ['read', 'edit', 'delete', 'move', 'search', 'execute', 'fetch', 'other'] as const) {
      const [u] = toAcpUpdates(
        ev({
          type: 'tool_call',
          turnId: 't',
          callId: 'k',
          tool: 'x',
          kind,
          summary: 's',
          input: {},
          status: 'pending',
        }),
        ws,
      );
      expect(acpKinds).toContain((u as { kind: string }).kind);
    }
  });

  it('maps awaiting_permission back to pending (ACP: awaiting approval) and running to in_progress', () => {
    expect(
      toAcpUpdates(ev({ type: 'tool_call_update', turnId: 't', callId: 'k1', status: 'awaiting_permission' }), ws),
    ).toEqual([{ sessionUpdate: 'tool_call_update', toolCallId: 'k1', status: 'pending' }]);
    expect(toAcpUpdates(ev({ type: 'tool_call_update', turnId: 't', callId: 'k1', status: 'running' }), ws)).toEqual([
      { sessionUpdate: 'tool_call_update', toolCallId: 'k1', status: 'in_progress' },
    ]);
  });

  it('completes a tool call with diff content (absolute path, old and new text), text content, changed locations and raw output', () => {
    const e = ev({
      type: 'tool_call_update',
      turnId: 't',
      callId: 'k1',
      status: 'completed',
      content: 'edited src/a.ts',
      output: 'edited src/a.ts (1 hunk)',
      changed: ['src/a.ts', 'new.txt'],
    });
    const [u] = toAcpUpdates(e, ws, [
      { path: 'src/a.ts', oldText: 'x\n', newText: 'y\n' },
      { path: 'new.txt', oldText: null, newText: 'hello\n' },
    ]);
    expect(u).toEqual({
      sessionUpdate: 'tool_call_update',
      toolCallId: 'k1',
      status: 'completed',
      content: [
        { type: 'diff', path: '/work/ws/src/a.ts', oldText: 'x\n', newText: 'y\n' },
        { type: 'diff', path: '/work/ws/new.txt', oldText: null, newText: 'hello\n' },
        { type: 'content', content: { type: 'text', text: 'edited src/a.ts' } },
      ],
      locations: [{ path: '/work/ws/src/a.ts' }, { path: '/work/ws/new.txt' }],
      rawOutput: { output: 'edited src/a.ts (1 hunk)' },
    });
  });

  it('marks failed tool calls failed and keeps the error code and reason in rawOutput', () => {
    const [u] = toAcpUpdates(
      ev({
        type: 'tool_call_update',
        turnId: 't',
        callId: 'k2',
        status: 'failed',
        content: 'denied by policy',
        code: -33300,
        reason: 'permission_denied',
      }),
      ws,
    );
    expect(u).toMatchObject({
      sessionUpdate: 'tool_call_update',
      toolCallId: 'k2',
      status: 'failed',
      content: [{ type: 'content', content: { type: 'text', text: 'denied by policy' } }],
      rawOutput: { output: 'denied by policy', code: -33300, reason: 'permission_denied' },
    });
    expect(u).not.toHaveProperty('locations');
  });

  it('reports a policy mode change as current_mode_update', () => {
    expect(toAcpUpdates(ev({ type: 'settings_changed', model: 'openai/m', mode: 'auto' }), ws)).toEqual([
      { sessionUpdate: 'current_mode_update', currentModeId: 'auto' },
    ]);
  });

  it('has no ACP update for bookkeeping events', () => {
    const quiet: SessionEvent['event'][] = [
      { type: 'turn_start', turnId: 't', model: 'm' },
      { type: 'usage', turnId: 't', inputTokens: 1, outputTokens: 2, cachedInputTokens: 0 },
      { type: 'assistant_message', turnId: 't', text: 'already streamed', toolCalls: [] },
      { type: 'turn_end', turnId: 't', stopReason: 'end_turn' },
      { type: 'checkpoint', turnId: 't', commit: 'abc', summary: 's', files: [] },
      { type: 'client_attached', clientId: 'c', name: 'n', kind: 'acp' },
      { type: 'permission_resolved', requestId: 'r', callId: 'k', outcome: 'deny' },
    ];
    for (const e of quiet) expect(toAcpUpdates(ev(e), ws, [], true)).toEqual([]);
  });

  it('wraps updates as session/update notifications of one session', () => {
    expect(
      notificationsFor('s9', [{ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: 'a' } }]),
    ).toEqual([
      { sessionId: 's9', update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: 'a' } } },
    ]);
  });
});

describe('acpStopReason', () => {
  it('maps shadowbox stop reasons to ACP ones', () => {
    expect(acpStopReason('end_turn')).toBe('end_turn');
    expect(acpStopReason('max_tokens')).toBe('max_tokens');
    expect(acpStopReason('max_turns')).toBe('max_turn_requests');
    expect(acpStopReason('refusal')).toBe('refusal');
    expect(acpStopReason('cancelled')).toBe('cancelled');
    expect(acpStopReason('interrupted')).toBe('cancelled');
  });
});

describe('locationsOf', () => {
  it('resolves path-like inputs against the workspace, with a line for path', () => {
    expect(locationsOf(ws, { path: 'a.ts', line: 7 })).toEqual([{ path: '/work/ws/a.ts', line: 7 }]);
    expect(locationsOf(ws, { from: 'a.ts', to: 'b/c.ts' })).toEqual([
      { path: '/work/ws/a.ts' },
      { path: '/work/ws/b/c.ts' },
    ]);
    expect(locationsOf(ws, { pattern: '*.ts' })).toEqual([]);
    expect(locationsOf(ws, 'nope')).toEqual([]);
  });
});

describe('permission mapping', () => {
  const all = ['allow_once', 'allow_session', 'allow_project', 'deny'] as const;

  it('offers allow_once / allow_always / reject_once / reject_always', () => {
    expect(permissionOptions([...all]).map((o) => [o.optionId, o.kind])).toEqual([
      ['allow_once', 'allow_once'],
      ['allow_always', 'allow_always'],
      ['reject_once', 'reject_once'],
      ['reject_always', 'reject_always'],
    ]);
  });

  it('offers allow_always for the session when the daemon offers no project choice, and none when it offers neither', () => {
    expect(
      permissionOptions(['allow_once', 'allow_session', 'deny']).find((o) => o.kind === 'allow_always')?.name,
    ).toMatch(/session/);
    expect(permissionOptions(['allow_once', 'deny']).map((o) => o.kind)).toEqual([
      'allow_once',
      'reject_once',
      'reject_always',
    ]);
  });

  it('maps the editor answer back to the daemon outcome', () => {
    expect(permissionAnswer({ outcome: 'selected', optionId: 'allow_once' }, [...all])).toEqual({
      outcome: 'allow_once',
      persistDeny: false,
    });
    expect(permissionAnswer({ outcome: 'selected', optionId: 'allow_always' }, [...all])).toEqual({
      outcome: 'allow_project',
      persistDeny: false,
    });
    expect(
      permissionAnswer({ outcome: 'selected', optionId: 'allow_always' }, ['allow_once', 'allow_session', 'deny']),
    ).toEqual({ outcome: 'allow_session', persistDeny: false });
    expect(permissionAnswer({ outcome: 'selected', optionId: 'reject_once' }, [...all])).toEqual({
      outcome: 'deny',
      persistDeny: false,
    });
    expect(permissionAnswer({ outcome: 'selected', optionId: 'reject_always' }, [...all])).toEqual({
      outcome: 'deny',
      persistDeny: true,
    });
  });

  it('denies a cancelled question, an unknown option and an option the daemon did not offer', () => {
    expect(permissionAnswer({ outcome: 'cancelled' }, [...all])).toEqual({ outcome: 'deny', persistDeny: false });
    expect(permissionAnswer({ outcome: 'selected', optionId: 'yolo' }, [...all])).toEqual({
      outcome: 'deny',
      persistDeny: false,
    });
    expect(permissionAnswer({ outcome: 'selected', optionId: 'allow_always' }, ['allow_once', 'deny'])).toEqual({
      outcome: 'deny',
      persistDeny: false,
    });
  });
});

describe('promptText', () => {
  it('joins text, embedded text resources and resource links; ignores images', () => {
    const text = promptText([
      { type: 'text', text: 'Fix this:' },
      { type: 'resource', resource: { uri: 'file:///w/a.ts', text: 'let x = 1' } },
      { type: 'resource_link', name: 'b.ts', uri: 'file:///w/b.ts' },
      { type: 'image', data: 'AAAA', mimeType: 'image/png' },
    ]);
    expect(text).toBe('Fix this:\n\n<file uri="file:///w/a.ts">\nlet x = 1\n</file>\n\n[b.ts](file:///w/b.ts)');
  });
});

describe('turnUsage', () => {
  it('carries input, output and the prompt cache as ACP names them; nothing when no call reported usage', () => {
    expect(turnUsage({ inputTokens: 100, outputTokens: 20, cachedInputTokens: 60, cacheWriteTokens: 5 })).toEqual({
      totalTokens: 120,
      inputTokens: 100,
      outputTokens: 20,
      cachedReadTokens: 60,
      cachedWriteTokens: 5,
    });
    expect(turnUsage({ inputTokens: 1, outputTokens: 2, cachedInputTokens: 0 })).toEqual({
      totalTokens: 3,
      inputTokens: 1,
      outputTokens: 2,
    });
    expect(turnUsage(undefined)).toBeUndefined();
  });

  it('says which instruction files are in effect as a thought, with the list in _meta', () => {
    const files = [{ path: 'AGENTS.md', scope: 'workspace' as const, bytes: 10, truncated: true, sha256: 'x' }];
    expect(toAcpUpdates(ev({ type: 'instructions', files }), ws)).toEqual([
      {
        sessionUpdate: 'agent_thought_chunk',
        content: { type: 'text', text: 'Instruction files in effect: AGENTS.md (truncated)\n' },
        _meta: { shadowbox: { instructions: files } },
      },
    ]);
    expect(toAcpUpdates(ev({ type: 'instructions', files: [] }), ws)[0]).toMatchObject({
      content: { text: 'No instruction files in effect now.\n' },
    });
  });
});
