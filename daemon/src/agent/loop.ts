import { ErrorCodes, type StopReason, type Usage } from '@shadowbox/protocol';
import { isShadowboxError, ShadowboxError } from '../errors.js';
import type { ChatMessage, ModelClient } from '../providers/index.js';
import { compactConversation } from './compact.js';
import { estimateTokens, fitContext } from './context.js';
import type { Conversation } from './conversation.js';
import type { AgentTools, Emit, ToolCallOutcome, TurnError, TurnLimits } from './types.js';
import { toolCallEvent, toolResultEvent } from './tool-events.js';
import { addUsage, usageOf } from './usage.js';

export interface RunTurnOptions {
  turnId: string;
  model: ModelClient;
  /** The system prompt, or a function asked before every model call (instruction files may change meanwhile). */
  system: string | (() => Promise<string>);
  /**
   * The conversation so far, including the new user message. The loop only reads it: `emit` must fold every
   * event into it (a LiveSession does; see Conversation), so history is always what the events say.
   */
  conversation: Conversation;
  tools: AgentTools;
  emit: Emit;
  signal: AbortSignal;
  limits: TurnLimits;
  /** Tool calls of the last assistant message still lacking results (resuming after a restart). */
  resumeCalls?: { id: string; name: string; arguments: string }[];
  /** Paths with pending shadow changes, for the compaction record. */
  pendingChanges?: () => Promise<string[]>;
}

export interface TurnResult {
  stopReason: StopReason;
  error?: TurnError;
  /** Usage of the turn's model calls (compaction included); absent when no call reported any. */
  usage?: Usage;
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
  const acc: Acc = { usage: undefined };
  const done = (stopReason: StopReason): TurnResult => ({ stopReason, ...(acc.usage ? { usage: acc.usage } : {}) });
  try {
    for (;;) {
      if (pending.length > 0) {
        await runToolCalls(o, pending);
        pending = [];
        if (signal.aborted) return done('cancelled');
      }
      if (modelTurns >= o.limits.maxTurns) return done('max_turns');
      modelTurns++;
      const step = await streamModelTurn(o, acc);
      if (step.stop === 'cancelled') return done('cancelled');
      if (step.calls.length === 0)
        return done(step.stop === 'max_tokens' ? 'max_tokens' : step.stop === 'refusal' ? 'refusal' : 'end_turn');
      // A tool call cut off by max_tokens has incomplete arguments: it does not run (the conversation gives
      // it its cut-off result at turn_end).
      if (step.stop === 'max_tokens') return done('max_tokens');
      pending = step.calls;
    }
  } catch (e) {
    if (signal.aborted) return done('cancelled');
    const err = isShadowboxError(e)
      ? e
      : new ShadowboxError(ErrorCodes.InternalError, 'internal', (e as Error)?.message ?? String(e), {}, { cause: e });
    return {
      ...done('error'),
      error: {
        code: err.code,
        reason: err.reason,
        message: err.message,
        ...(err.data.retryable === true ? { retryable: true } : {}),
      },
    };
  }
}

/** What a prompt's run accumulates across its model calls. */
interface Acc {
  usage: Usage | undefined;
}

/** Emits one call's usage (with its cost and the window, for a context gauge) and adds it to the turn's. */
function recordUsage(o: RunTurnOptions, acc: Acc, u: Usage): void {
  acc.usage = addUsage(acc.usage, u);
  o.emit({ type: 'usage', turnId: o.turnId, ...u, contextWindow: o.model.contextWindow });
}

/**
 * Near the window, older turns are summarized (a `compaction` event the conversation folds). A model that
 * answers with no summary leaves the conversation as it was (elision still keeps it under the window);
 * any other failure ends the turn like a failed model call.
 */
async function compactIfNeeded(o: RunTurnOptions, acc: Acc, system: string, fixed: number): Promise<void> {
  const at = o.limits.compactAt;
  if (at === undefined) return;
  const limit = Math.floor(o.model.contextWindow * at);
  if (estimateTokens(o.conversation.history) + fixed <= limit) return;
  try {
    const r = await compactConversation({
      conversation: o.conversation,
      model: o.model,
      turnId: o.turnId,
      trigger: 'auto',
      // The newest messages keep at most 40% of what the window leaves the conversation.
      keepTokens: Math.max(1, Math.floor((limit - fixed) * 0.4)),
      signal: o.signal,
      ...(o.pendingChanges ? { pendingChanges: o.pendingChanges } : {}),
    });
    if (r?.usage) recordUsage(o, acc, r.usage);
    if (r) o.emit(r.event);
  } catch (e) {
    if (!(isShadowboxError(e) && e.reason === 'compaction_failed')) throw e;
  }
}

/** Images of earlier messages are replaced by a note for a model that takes none (the session switched models). */
function withoutImages(messages: ChatMessage[]): ChatMessage[] {
  return messages.map((m) =>
    m.role === 'user' && m.images?.length
      ? { role: 'user', content: `${m.content}\n[${m.images.length} image(s) left out: this model takes no images]` }
      : m,
  );
}

async function streamModelTurn(
  o: RunTurnOptions,
  acc: Acc,
): Promise<{ stop: 'end_turn' | 'tool_use' | 'max_tokens' | 'refusal' | 'cancelled'; calls: PendingCall[] }> {
  const { turnId, emit, signal } = o;
  const system = typeof o.system === 'string' ? o.system : await o.system();
  const specs = o.tools.specs();
  // What every call sends besides the conversation: the system prompt and the tools' JSON Schemas.
  const fixed = estimateTokens([], system) + Math.ceil(JSON.stringify(specs).length / 4);
  await compactIfNeeded(o, acc, system, fixed);
  const budget = Math.floor(o.model.contextWindow * o.limits.contextHighWater) - fixed;
  const fitted = fitContext(o.conversation.history, Math.max(0, budget)).messages;
  const messages = o.model.images ? fitted : withoutImages(fitted);
  let text = '';
  let reasoning = '';
  const calls: PendingCall[] = [];
  let stop: 'end_turn' | 'tool_use' | 'max_tokens' | 'refusal' = 'end_turn';
  try {
    for await (const ev of o.model.stream({ system, messages, tools: specs }, signal)) {
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
          recordUsage(o, acc, usageOf(ev, o.model.prices));
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
    emit(toolCallEvent({ turnId, callId: c.id, tool: c.name, input, raw: c.arguments }, desc));
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
  emit(toolResultEvent(turnId, call.id, r));
  return r;
}
