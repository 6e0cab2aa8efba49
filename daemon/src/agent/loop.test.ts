// runTurn in process, over an in-memory model and tool set (fakes, not mocks): random model turns — text,
// reasoning, tool calls (concurrent or not, some with broken JSON, some failing, finishing out of order),
// max_tokens cuts, refusals, cancellation — and the property that the conversation the next model turn
// sees is exactly the one a restarted daemon rebuilds from the events, and one a provider accepts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SessionEvent, SessionEventBody } from '@shadowbox/protocol';
import type { ChatMessage, ModelClient, ModelEvent, ModelRequest } from '../providers/index.js';
import { Conversation, historyFromEvents } from './conversation.js';
import { runTurn } from './loop.js';
import type { AgentTools, ToolCallOutcome } from './types.js';

interface ScriptedCall {
  name: 'fast' | 'slow' | 'unknown';
  badJson: boolean;
  fails: boolean;
  /** Microtask hops before the call resolves (so concurrent calls finish out of order). */
  hops: number;
}
interface ScriptedStep {
  text: string;
  reasoning: string;
  calls: ScriptedCall[];
  stop: 'end_turn' | 'tool_use' | 'max_tokens' | 'refusal';
}

const callArb: fc.Arbitrary<ScriptedCall> = fc.record({
  name: fc.constantFrom('fast' as const, 'slow' as const, 'unknown' as const),
  badJson: fc.boolean(),
  fails: fc.boolean(),
  hops: fc.nat(5),
});
const stepArb: fc.Arbitrary<ScriptedStep> = fc.record({
  text: fc.string({ maxLength: 12 }),
  reasoning: fc.oneof(fc.constant(''), fc.string({ maxLength: 8 })),
  calls: fc.array(callArb, { maxLength: 4 }),
  stop: fc.constantFrom('end_turn' as const, 'tool_use' as const, 'max_tokens' as const, 'refusal' as const),
});

/** A model that plays `steps` in order, one per model turn; past the script it ends the turn. */
function scriptedModel(steps: ScriptedStep[], seen: ChatMessage[][]): ModelClient {
  let n = 0;
  return {
    model: 'scripted',
    contextWindow: 1_000_000,
    async *stream(req: ModelRequest): AsyncIterable<ModelEvent> {
      seen.push(structuredClone(req.messages));
      const step = steps[n++];
      if (!step) {
        yield { type: 'text', delta: 'done' };
        yield { type: 'stop', reason: 'end_turn' };
        return;
      }
      if (step.reasoning) yield { type: 'reasoning', delta: step.reasoning };
      if (step.text) yield { type: 'text', delta: step.text };
      for (const [i, c] of step.calls.entries()) {
        const id = `call-${n}-${i}`;
        const args = c.badJson ? '{"path": ' : JSON.stringify({ i });
        yield { type: 'tool_call_start', index: i, id, name: c.name };
        yield { type: 'tool_call_end', index: i, id, name: c.name, arguments: args };
      }
      yield { type: 'stop', reason: step.calls.length && step.stop === 'end_turn' ? 'tool_use' : step.stop };
    },
  };
}

/** Tools whose outcome the script decides; `fast` may run concurrently, `slow` alone, `unknown` does not exist. */
function scriptedTools(steps: ScriptedStep[]): AgentTools {
  const byId = new Map<string, ScriptedCall>();
  steps.forEach((s, n) => s.calls.forEach((c, i) => byId.set(`call-${n + 1}-${i}`, c)));
  return {
    specs: () => [],
    describe: (name) => (name === 'unknown' ? null : { kind: 'read', summary: name, concurrent: name === 'fast' }),
    async call(req): Promise<ToolCallOutcome> {
      const c = byId.get(req.callId)!;
      for (let h = 0; h < c.hops; h++) await Promise.resolve();
      if (req.name === 'unknown')
        return { isError: true, content: 'no such tool', durationMs: 0, reason: 'unknown_tool' };
      return c.fails
        ? { isError: true, content: `failed ${req.callId}`, durationMs: 0, reason: 'tool_error' }
        : { isError: false, content: `ok ${req.callId}`, durationMs: 0 };
    },
  };
}

/** Every tool call of an assistant message has exactly one result before the next user or assistant message. */
function wellFormed(history: readonly ChatMessage[]): boolean {
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

/** Runs one prompt as a session does: user_message, turn_start, the loop, turn_end — every event folded. */
async function runPrompt(steps: ScriptedStep[], opts: { cancelAfterEvents?: number; maxTurns?: number }) {
  const conversation = new Conversation();
  const events: SessionEvent[] = [];
  const abort = new AbortController();
  const emit = (event: SessionEventBody) => {
    conversation.apply(event);
    events.push({ sessionId: 's', seq: events.length, time: '2026-01-01T00:00:00.000Z', event });
    if (opts.cancelAfterEvents !== undefined && events.length >= opts.cancelAfterEvents) abort.abort();
  };
  const seen: ChatMessage[][] = [];
  emit({ type: 'user_message', turnId: 't', text: 'go', clientId: 'c' });
  emit({ type: 'turn_start', turnId: 't', model: 'scripted' });
  const result = await runTurn({
    turnId: 't',
    model: scriptedModel(steps, seen),
    system: 'sys',
    conversation,
    tools: scriptedTools(steps),
    emit,
    signal: abort.signal,
    limits: { maxTurns: opts.maxTurns ?? 10, contextHighWater: 0.8 },
  });
  emit({ type: 'turn_end', turnId: 't', stopReason: result.stopReason });
  return { conversation, events, seen, result };
}

describe('runTurn and the conversation', () => {
  it('the live conversation equals the one rebuilt from the events, and providers accept it', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb, { maxLength: 5 }),
        fc.option(fc.integer({ min: 3, max: 40 }), { nil: undefined }),
        fc.integer({ min: 1, max: 6 }),
        async (steps, cancelAfterEvents, maxTurns) => {
          const { conversation, events, seen } = await runPrompt(steps, { cancelAfterEvents, maxTurns });
          expect(conversation.history).toEqual(historyFromEvents(events).history);
          expect(wellFormed(conversation.history)).toBe(true);
          // What each model turn was sent is a prefix of the final conversation.
          for (const sent of seen) expect(conversation.history.slice(0, sent.length)).toEqual(sent);
        },
      ),
      { seed: 20261202, numRuns: 300 },
    );
  });

  it('a call cut off by max_tokens does not run and gets its cut-off result at turn end', async () => {
    const steps: ScriptedStep[] = [
      {
        text: 'x',
        reasoning: '',
        calls: [{ name: 'fast', badJson: false, fails: false, hops: 0 }],
        stop: 'max_tokens',
      },
    ];
    const { conversation, events, result } = await runPrompt(steps, {});
    expect(result.stopReason).toBe('max_tokens');
    expect(events.some((e) => e.event.type === 'tool_call_update')).toBe(false);
    expect(conversation.history.at(-1)).toMatchObject({ role: 'tool', toolCallId: 'call-1-0', isError: true });
  });

  it('results of concurrent calls are recorded in call order, whatever order they finish in', async () => {
    const steps: ScriptedStep[] = [
      {
        text: '',
        reasoning: '',
        calls: [
          { name: 'fast', badJson: false, fails: false, hops: 4 },
          { name: 'fast', badJson: false, fails: true, hops: 0 },
        ],
        stop: 'tool_use',
      },
    ];
    const { conversation } = await runPrompt(steps, {});
    const tools = conversation.history.filter((m) => m.role === 'tool').map((m) => m.toolCallId);
    expect(tools).toEqual(['call-1-0', 'call-1-1']);
  });
});
