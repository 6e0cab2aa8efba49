import { ErrorCodes, type StopReason } from '@shadowbox/protocol';
import { isShadowboxError, ShadowboxError } from '../errors.js';
import type { ChatMessage, ModelClient } from '../providers/index.js';
import { fitContext } from './context.js';
import type { AgentTools, Emit, ToolCallOutcome, TurnError, TurnLimits } from './types.js';

export interface RunTurnOptions {
  turnId: string;
  model: ModelClient;
  system: string;
  /**
   * The conversation so far, including the new user message. The loop only reads it: `emit` must fold every
   * event into it (a LiveSession does; see Conversation), so history is always what the events say.
   */
  conversation: { readonly history: readonly ChatMessage[] };
  tools: AgentTools;
  emit: Emit;
  signal: AbortSignal;
  limits: TurnLimits;
  /** Tool calls of the last assistant message still lacking results (resuming after a restart). */
  resumeCalls?: { id: string; name: string; arguments: string }[];
}

export interface TurnResult {
  stopReason: StopReason;
  error?: TurnError;
}

interface PendingCall {
  id: string;
  name: string;
  arguments: string;
}

/**
 * One prompt's run: model turn → tool calls → results → next model turn, until the model ends
 * its turn, a limit is hit, the signal aborts or the provider fails. Never throws: every outcome
 * is a stop reason, and every step is emitted as a session event.
 */
export async function runTurn(o: RunTurnOptions): Promise<TurnResult> {
  const { signal } = o;
  let modelTurns = 0;
  let pending: PendingCall[] = o.resumeCalls ?? [];
  try {
    for (;;) {
      if (pending.length > 0) {
        await runToolCalls(o, pending);
        pending = [];
        if (signal.aborted) return { stopReason: 'cancelled' };
      }
      if (modelTurns >= o.limits.maxTurns) return { stopReason: 'max_turns' };
      modelTurns++;
      const step = await streamModelTurn(o);
      if (step.stop === 'cancelled') return { stopReason: 'cancelled' };
      if (step.calls.length === 0)
        return {
          stopReason: step.stop === 'max_tokens' ? 'max_tokens' : step.stop === 'refusal' ? 'refusal' : 'end_turn',
        };
      // A tool call cut off by max_tokens has incomplete arguments: it does not run (the conversation gives
      // it its cut-off result at turn_end).
      if (step.stop === 'max_tokens') return { stopReason: 'max_tokens' };
      pending = step.calls;
    }
  } catch (e) {
    if (signal.aborted) return { stopReason: 'cancelled' };
    const err = isShadowboxError(e)
      ? e
      : new ShadowboxError(ErrorCodes.InternalError, 'internal', (e as Error)?.message ?? String(e), {}, { cause: e });
    return {
      stopReason: 'error',
      error: {
        code: err.code,
        reason: err.reason,
        message: err.message,
        ...(err.data.retryable === true ? { retryable: true } : {}),
      },
    };
  }
}

async function streamModelTurn(
  o: RunTurnOptions,
): Promise<{ stop: 'end_turn' | 'tool_use' | 'max_tokens' | 'refusal' | 'cancelled'; calls: PendingCall[] }> {
  const { turnId, emit, signal } = o;
  const budget = Math.floor(o.model.contextWindow * o.limits.contextHighWater);
  const { messages } = fitContext(o.conversation.history, budget, o.system);
  let text = '';
  let reasoning = '';
  const calls: PendingCall[] = [];
  let stop: 'end_turn' | 'tool_use' | 'max_tokens' | 'refusal' = 'end_turn';
  try {
    for await (const ev of o.model.stream({ system: o.system, messages, tools: o.tools.specs() }, signal)) {
      if (signal.aborted) break;
      switch (ev.type) {
        case 'text':
          text += ev.delta;
          emit({ type: 'message_delta', turnId, text: ev.delta });
          break;
        case 'reasoning':
          reasoning += ev.delta;
          emit({ type: 'reasoning_delta', turnId, text: ev.delta });
          break;
        case 'tool_call_end':
          calls.push({ id: ev.id, name: ev.name, arguments: ev.arguments });
          break;
        case 'usage':
          emit({ type: 'usage', turnId, inputTokens: ev.inputTokens, outputTokens: ev.outputTokens });
          break;
        case 'retry':
          emit({
            type: 'model_retry',
            turnId,
            attempt: ev.attempt,
            maxAttempts: ev.maxAttempts,
            url: ev.url,
            reason: ev.reason,
            message: ev.message,
          });
          break;
        case 'stop':
          stop = ev.reason;
          break;
        default:
          break;
      }
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
  const cancelled = signal.aborted;
  // What the model produced is kept even when cancelled, so the conversation stays truthful.
  if (text || reasoning || calls.length) {
    const kept = cancelled ? [] : calls;
    emit({
      type: 'assistant_message',
      turnId,
      text,
      ...(reasoning ? { reasoning } : {}),
      toolCalls: kept.map((c) => ({ callId: c.id, tool: c.name, arguments: c.arguments })),
    });
  }
  return { stop: cancelled ? 'cancelled' : stop, calls: cancelled ? [] : calls };
}

/** Runs a model turn's calls: consecutive concurrent-safe calls together, others alone (each result is an event). */
async function runToolCalls(o: RunTurnOptions, calls: PendingCall[]): Promise<void> {
  const { turnId, emit } = o;
  const prepared = calls.map((c) => {
    let input: unknown;
    let parseError: string | undefined;
    try {
      input = c.arguments.trim() === '' ? {} : (JSON.parse(c.arguments) as unknown);
    } catch (e) {
      parseError = (e as Error).message;
    }
    const desc = o.tools.describe(c.name, input);
    emit({
      type: 'tool_call',
      turnId,
      callId: c.id,
      tool: c.name,
      kind: desc?.kind ?? 'other',
      summary: desc?.summary ?? c.name,
      // An input nested too deeply to serialize again is logged as the model's own text.
      input: input !== undefined && !nestsDeeperThan(input, MAX_LOGGED_DEPTH) ? input : c.arguments,
      status: 'pending',
    });
    return { call: c, input, parseError, concurrent: desc?.concurrent ?? false };
  });
  let i = 0;
  while (i < prepared.length) {
    let j = i + 1;
    if (prepared[i].concurrent) while (j < prepared.length && prepared[j].concurrent) j++;
    await Promise.all(prepared.slice(i, j).map((p) => runOne(o, p.call, p.input, p.parseError)));
    i = j;
  }
}

async function runOne(
  o: RunTurnOptions,
  call: PendingCall,
  input: unknown,
  parseError: string | undefined,
): Promise<ToolCallOutcome> {
  const { turnId, emit, signal } = o;
  let r: ToolCallOutcome;
  if (signal.aborted) {
    r = {
      isError: true,
      content: 'Cancelled before it ran.',
      durationMs: 0,
      code: ErrorCodes.RequestCancelled,
      reason: 'cancelled',
    };
  } else if (parseError !== undefined) {
    r = {
      isError: true,
      content: `The arguments are not valid JSON (${parseError}). Send the tool arguments as one JSON object.`,
      durationMs: 0,
      code: ErrorCodes.ToolInputInvalid,
      reason: 'invalid_json',
    };
  } else {
    // `running` once the call really runs: after the policy and any permission question (awaiting_permission).
    r = await o.tools.call({
      turnId,
      callId: call.id,
      name: call.name,
      input,
      signal,
      onRunning: () => emit({ type: 'tool_call_update', turnId, callId: call.id, status: 'running' }),
      // Live output (shell, python) reaches every attached client while the call runs.
      onProgress: (c) => emit({ type: 'tool_output', turnId, callId: call.id, stream: c.stream, text: c.text }),
    });
  }
  emit({
    type: 'tool_call_update',
    turnId,
    callId: call.id,
    status: r.isError ? 'failed' : 'completed',
    content: r.content,
    ...(r.output !== undefined ? { output: r.output } : {}),
    ...(r.code !== undefined ? { code: r.code } : {}),
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    ...(r.decision ? { decision: r.decision } : {}),
    durationMs: r.durationMs,
    ...(r.changed ? { changed: r.changed } : {}),
    ...(r.data ? { data: r.data } : {}),
    ...(r.auditSeq !== undefined ? { auditSeq: r.auditSeq } : {}),
  });
  return r;
}

/** Nesting the session log keeps as a value; deeper inputs (9,000 levels overflow JSON.stringify) are kept as text. */
const MAX_LOGGED_DEPTH = 256;

/** Whether a JSON value nests deeper than `limit`, found without recursion (the value may be arbitrarily deep). */
function nestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(v))
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}
