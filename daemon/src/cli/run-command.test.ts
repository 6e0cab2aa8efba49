import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '@shadowbox/protocol';
import { renderPlain } from './run-command.js';

type Ev = SessionEvent['event'];

function render(events: Ev[]): string {
  let out = '';
  const state = { midLine: false };
  for (const e of events) renderPlain(e, (s) => (out += s), state);
  return out;
}

const call: Ev = {
  type: 'tool_call',
  turnId: 't',
  callId: 'c1',
  tool: 'shell',
  kind: 'execute',
  summary: 'npm test',
  input: {},
  status: 'pending',
};

describe('shadowbox run, plain text', () => {
  it("shows a running command's live output as whole lines, and not again when it ends", () => {
    const out = render([
      call,
      { type: 'tool_output', turnId: 't', callId: 'c1', stream: 'stdout', text: 'test 1 ok\ntest ' },
      { type: 'tool_output', turnId: 't', callId: 'c1', stream: 'stdout', text: '2 ok\n' },
      { type: 'tool_output', turnId: 't', callId: 'c1', stream: 'stderr', text: 'done' },
      {
        type: 'tool_call_update',
        turnId: 't',
        callId: 'c1',
        status: 'completed',
        durationMs: 1200,
        content: 'test 1 ok\ntest 2 ok\ndone',
      },
    ]);
    expect(out).toBe('▸ shell (execute) npm test\n  │ test 1 ok\n  │ test 2 ok\n  │ done\n  ✓ completed in 1200 ms\n');
  });

  it('without live output the first lines of the result are shown when the call ends', () => {
    const out = render([
      call,
      { type: 'tool_call_update', turnId: 't', callId: 'c1', status: 'completed', durationMs: 5, content: 'one\ntwo' },
    ]);
    expect(out).toBe('▸ shell (execute) npm test\n  ✓ completed in 5 ms\n  │ one\n  │ two\n');
  });

  it("marks another client's direct call", () => {
    const out = render([{ ...call, turnId: 'direct:c2', origin: 'client', clientId: 'c2' }]);
    expect(out).toBe('▸ shell (execute) npm test (run by a client)\n');
  });
});
