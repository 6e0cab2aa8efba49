import { PassThrough } from 'node:stream';
import { stripVTControlCharacters as strip } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '@shadowbox/protocol';
import { lookFor, type TerminalIo } from './io.js';
import { Screen } from './screen.js';
import { Transcript } from './transcript.js';

/** A captured output stream; `tty` makes it look like a terminal of the given width. */
function capture(tty: boolean, env: NodeJS.ProcessEnv = {}) {
  const out = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number };
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  if (tty) {
    out.isTTY = true;
    out.columns = 80;
  }
  const io: TerminalIo = { env, cwd: '/', stdout: out, stderr: out, stdin: new PassThrough() };
  const screen = new Screen(io, lookFor(io), () => 10_000);
  const t = new Transcript(screen, () => 'me');
  let seq = 0;
  const emit = (event: SessionEvent['event'], replay = false) =>
    t.event({ sessionId: 's', seq, time: new Date(100 * ++seq).toISOString(), event }, replay);
  return { t, screen, emit, text: () => text };
}

const turn = 't1';

describe('Transcript', () => {
  it('writes plain text to a pipe: raw streamed text, tool lines, folded output, turn end', () => {
    const { emit, text } = capture(false);
    emit({ type: 'user_message', turnId: turn, text: 'fix it', clientId: 'me' });
    emit({ type: 'turn_start', turnId: turn, model: 'm' });
    emit({ type: 'message_delta', turnId: turn, text: 'Looking at **a.ts**' });
    emit({
      type: 'tool_call',
      turnId: turn,
      callId: 'c1',
      tool: 'bash',
      kind: 'execute',
      summary: 'npm test',
      input: {},
      status: 'pending',
    });
    emit({ type: 'tool_call_update', turnId: turn, callId: 'c1', status: 'running' });
    const output = Array.from({ length: 20 }, (_, i) => `out ${i}`).join('\n');
    emit({
      type: 'tool_call_update',
      turnId: turn,
      callId: 'c1',
      status: 'completed',
      output,
      durationMs: 1234,
      code: 0,
    });
    emit({ type: 'checkpoint', turnId: turn, commit: 'abc', summary: 's', files: ['a.ts'] });
    emit({ type: 'usage', turnId: turn, inputTokens: 100, outputTokens: 20, cachedInputTokens: 0 });
    emit({ type: 'turn_end', turnId: turn, stopReason: 'end_turn' });
    const lines = text().split('\n');
    expect(text()).not.toMatch(/\x1b/);
    expect(lines[0]).toBe('› fix it');
    expect(lines[1]).toBe('Looking at **a.ts**');
    expect(lines[2]).toBe('▸ execute bash npm test');
    expect(lines[3]).toBe('✓ execute bash npm test · 1.2 s');
    expect(lines.slice(4, 17)).toEqual([...Array.from({ length: 12 }, (_, i) => `  │ out ${i}`), '  │ … 8 more lines']);
    expect(text()).toContain('● 1 file changed in the shadow workspace: a.ts');
    expect(text()).toContain('— done · 700 ms · 100 tokens in / 20 out');
  });

  it('streams on a TTY: partial lines live, complete lines rendered as markdown, spinners erased', () => {
    const { emit, text, t } = capture(true);
    emit({ type: 'turn_start', turnId: turn, model: 'm' });
    expect(t.runningTurn).toBe(turn);
    emit({ type: 'message_delta', turnId: turn, text: '# Plan\nI will edit **a.t' });
    emit({ type: 'message_delta', turnId: turn, text: 's** now\n- one' });
    emit({ type: 'assistant_message', turnId: turn, text: '# Plan\nI will edit **a.ts** now\n- one', toolCalls: [] });
    emit({
      type: 'tool_call',
      turnId: turn,
      callId: 'c1',
      tool: 'write_file',
      kind: 'edit',
      summary: 'a.ts',
      input: { path: 'a.ts' },
      status: 'pending',
    });
    emit({
      type: 'tool_call_update',
      turnId: turn,
      callId: 'c1',
      status: 'failed',
      content: 'no such dir',
      reason: 'not_found',
      durationMs: 3,
    });
    emit({ type: 'turn_end', turnId: turn, stopReason: 'cancelled' });
    expect(t.runningTurn).toBeNull();
    const raw = text();
    expect(raw).toMatch(/\x1b\[/);
    // The streamed half line was shown live, then replaced by the rendered line.
    expect(strip(raw)).toContain('I will edit **a.t');
    expect(raw).toContain('\x1b[1ma.ts\x1b[22m');
    expect(strip(raw)).toContain('• one\n');
    expect(strip(raw)).toContain('✗ edit    write_file a.ts · 3 ms not_found');
    expect(strip(raw)).toContain('⊘ turn cancelled after 600 ms');
    // Live lines are cleared from the screen with clearScreenDown.
    expect(raw).toContain('\x1b[0J');
  });

  it('honours NO_COLOR on a TTY (no color codes, still live redraws)', () => {
    const { emit, text } = capture(true, { NO_COLOR: '1' });
    emit({ type: 'message_delta', turnId: turn, text: '**bold** text\n' });
    expect(text()).not.toMatch(/\x1b\[\d+m/);
    expect(text()).toContain('bold text\n');
  });

  it('renders an assistant message that was not streamed, and other clients, driver and permission outcomes', () => {
    const { emit, text, t } = capture(false);
    emit({ type: 'client_attached', clientId: 'c2', name: 'web', kind: 'web' });
    emit({ type: 'driver_changed', driver: 'c2' });
    emit({ type: 'user_message', turnId: turn, text: 'hi', clientId: 'c2' });
    emit({ type: 'assistant_message', turnId: turn, text: 'whole answer', toolCalls: [] });
    emit({ type: 'permission_resolved', requestId: 'r', callId: 'c', outcome: 'allow_session', by: 'me' });
    emit({ type: 'driver_changed', driver: 'me' });
    expect(t.driver).toBe('me');
    expect(text().split('\n')).toEqual([
      '○ web (web) attached',
      '◆ web is driving — you are watching (/drive to take over)',
      '› hi  (from web)',
      'whole answer',
      '  → allowed for this session by you',
      '◆ you are the driver',
      '',
    ]);
  });

  it("marks a client's direct call with who ran it, and a turn ending meanwhile does not end it", () => {
    const { emit, text } = capture(false);
    emit({ type: 'client_attached', clientId: 'c2', name: 'cli', kind: 'cli' });
    emit({ type: 'turn_start', turnId: turn, model: 'm' });
    const direct = { turnId: 'direct:c2', callId: 'd1', origin: 'client' as const };
    emit({
      type: 'tool_call',
      ...direct,
      tool: 'write_file',
      kind: 'edit',
      summary: 'n.txt (4 bytes)',
      input: {},
      status: 'pending',
      clientId: 'c2',
    });
    emit({ type: 'tool_call_update', ...direct, status: 'running' });
    emit({ type: 'turn_end', turnId: turn, stopReason: 'end_turn' });
    emit({ type: 'tool_call_update', ...direct, status: 'completed', durationMs: 5, changed: ['n.txt'] });
    emit({
      type: 'tool_call',
      ...direct,
      callId: 'd2',
      tool: 'nope',
      kind: 'other',
      summary: 'nope',
      input: {},
      status: 'pending',
      clientId: 'me',
    });
    emit({ type: 'tool_call_update', ...direct, callId: 'd2', status: 'failed', reason: 'unknown_tool', code: -32011 });
    const lines = text().split('\n');
    expect(lines).toContain('▸ edit write_file n.txt (4 bytes) · run by cli');
    expect(lines).toContain('✓ edit    write_file n.txt (4 bytes) · run by cli · 5 ms');
    expect(lines).toContain('  changed in the shadow workspace: n.txt');
    expect(lines).toContain('✗ other   nope nope · run by you unknown_tool');
  });

  it('ignores events it already rendered (history and live overlap)', () => {
    const { t, text } = capture(false);
    const ev = {
      sessionId: 's',
      seq: 5,
      time: new Date().toISOString(),
      event: { type: 'settings_changed' as const, model: 'x', mode: 'auto' as const },
    };
    t.event(ev);
    t.event(ev);
    expect(text()).toBe('model x · mode auto\n');
  });
});
