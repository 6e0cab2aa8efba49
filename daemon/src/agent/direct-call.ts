import { isShadowboxError, ErrorCodes } from '../errors.js';
import type { AgentTools, Emit, ToolCallOutcome } from './types.js';
import { toolCallEvent, toolResultEvent } from './tool-events.js';

/** The turnId of a client's direct calls (tools/call): outside every model turn, one per client. */
export function directTurnId(clientId: string): string {
  return `direct:${clientId}`;
}

/** Whether a turnId names a client's direct calls rather than a model turn. */
export function isDirectTurn(turnId: string | null | undefined): boolean {
  return typeof turnId === 'string' && turnId.startsWith('direct:');
}

/** What a direct call needs: the session's tools, its event sink, and who called. */
export interface DirectCallOptions {
  tools: AgentTools;
  emit: Emit;
  clientId: string;
  callId: string;
  tool: string;
  input: unknown;
  signal: AbortSignal;
  /** Live output besides the session's tool_output events (the caller's $/progress). */
  onProgress?: (chunk: { stream: 'stdout' | 'stderr'; text: string }) => void;
}

/**
 * A client's tools/call as session events, the same ones a model turn's call produces (tool_call, running,
 * tool_call_update with status and changed files; refusals end failed with their reason), marked
 * `origin: 'client'` so every attached client sees who ran it and the conversation leaves it out.
 */
export async function runDirectCall(o: DirectCallOptions): Promise<ToolCallOutcome> {
  const turnId = directTurnId(o.clientId);
  const { emit, callId } = o;
  const origin = 'client' as const;
  const desc = o.tools.describe(o.tool, o.input);
  emit(
    toolCallEvent({ turnId, callId, tool: o.tool, input: o.input, raw: '[input nested too deeply to log]' }, desc, {
      origin,
      clientId: o.clientId,
    }),
  );
  let r: ToolCallOutcome;
  try {
    r = await o.tools.call({
      turnId,
      callId,
      name: o.tool,
      input: o.input,
      signal: o.signal,
      onRunning: () => emit({ type: 'tool_call_update', turnId, callId, status: 'running', origin }),
      onProgress: (c) => {
        emit({ type: 'tool_output', turnId, callId, stream: c.stream, text: c.text });
        o.onProgress?.(c);
      },
    });
  } catch (e) {
    // The call threw instead of returning a result (an internal failure): its events still end, then it throws on.
    const err = isShadowboxError(e) ? e : null;
    emit({
      type: 'tool_call_update',
      turnId,
      callId,
      status: 'failed',
      content: err ? err.message : 'The call failed inside the daemon.',
      ...(err ? { code: err.code, reason: err.reason } : { code: ErrorCodes.InternalError }),
      durationMs: 0,
      origin,
    });
    throw e;
  }
  emit(toolResultEvent(turnId, callId, r, origin));
  return r;
}
