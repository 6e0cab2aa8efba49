import type { SessionEventBody, ToolCallOrigin } from '@shadowbox/protocol';
import type { ToolCallOutcome } from './types.js';

type ToolCallEvent = Extract<SessionEventBody, { type: 'tool_call' }>;
type ToolCallUpdate = Extract<SessionEventBody, { type: 'tool_call_update' }>;

/** Nesting the session log keeps as a value; deeper inputs (9,000 levels overflow JSON.stringify) are kept as text. */
const MAX_LOGGED_DEPTH = 256;

/** Whether a JSON value nests deeper than `limit`, found without recursion (the value may be arbitrarily deep). */
function nestsDeeperThan(value: unknown, limit: number = MAX_LOGGED_DEPTH): boolean {
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

/** The end of a tool call as a session event: the same shape for the agent's calls and a client's (tools/call). */
export function toolResultEvent(
  turnId: string,
  callId: string,
  r: ToolCallOutcome,
  origin?: ToolCallOrigin,
): ToolCallUpdate {
  return {
    type: 'tool_call_update',
    turnId,
    callId,
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
    ...(origin ? { origin } : {}),
  };
}

/** The start of a tool call as a session event (`raw`: the text logged when the input nests too deeply). */
export function toolCallEvent(
  c: { turnId: string; callId: string; tool: string; input: unknown; raw: string },
  desc: { kind: ToolCallEvent['kind']; summary: string } | null,
  from?: { origin: ToolCallOrigin; clientId: string },
): ToolCallEvent {
  return {
    type: 'tool_call',
    turnId: c.turnId,
    callId: c.callId,
    tool: c.tool,
    kind: desc?.kind ?? 'other',
    summary: desc?.summary ?? c.tool,
    // An input nested too deeply to serialize again is logged as text.
    input: c.input !== undefined && !nestsDeeperThan(c.input) ? c.input : c.raw,
    status: 'pending',
    ...(from ? { origin: from.origin, clientId: from.clientId } : {}),
  };
}
