import type { SessionEvent } from '@shadowbox/protocol';
import type { ChatMessage } from '../providers/index.js';

/** The result the model sees for a call cut off by max_tokens (its arguments are incomplete, it did not run). */
export const CUT_OFF_RESULT = 'The tool call was cut off by max_tokens; its arguments are incomplete.';
/** The result the model sees for a call whose run the daemon lost (it stopped while the call ran). */
export const INTERRUPTED_RESULT =
  'Interrupted: the daemon stopped while this call was running. Check its effects before retrying.';

/** A session's conversation rebuilt from its event log, plus what a crash left open. */
export interface ReplayState {
  history: ChatMessage[];
  /** Turn that started and never ended (the daemon died during it). */
  openTurn: string | null;
  /** Tool calls of the last assistant message that have no result yet. */
  unresolvedCalls: { id: string; name: string; arguments: string; awaitingPermission: boolean }[];
}

/** Rebuilds the model conversation from logged events (user/assistant messages and tool results). */
export function historyFromEvents(events: SessionEvent[]): ReplayState {
  const history: ChatMessage[] = [];
  const toolNames = new Map<string, string>();
  let openTurn: string | null = null;
  let lastCalls: { id: string; name: string; arguments: string }[] = [];
  const resolved = new Set<string>();
  const awaiting = new Set<string>();
  for (const { event: e } of events) {
    switch (e.type) {
      case 'user_message':
        history.push({ role: 'user', content: e.text });
        break;
      case 'turn_start':
        openTurn = e.turnId;
        break;
      case 'turn_end':
        if (openTurn === e.turnId) openTurn = null;
        // A call of the last assistant message that never got a result (the daemon died while it ran, or
        // max_tokens cut it off) gets one here: providers refuse a tool call without its result, so the
        // session could never be prompted again. Calls awaiting a question stay open: recovery resumes them.
        for (const c of lastCalls) {
          if (resolved.has(c.id) || awaiting.has(c.id)) continue;
          history.push({
            role: 'tool',
            toolCallId: c.id,
            name: c.name,
            content: e.stopReason === 'max_tokens' ? CUT_OFF_RESULT : INTERRUPTED_RESULT,
            isError: true,
          });
          resolved.add(c.id);
        }
        break;
      case 'assistant_message': {
        const calls = e.toolCalls.map((c) => ({ id: c.callId, name: c.tool, arguments: c.arguments }));
        for (const c of calls) toolNames.set(c.id, c.name);
        history.push({
          role: 'assistant',
          content: e.text,
          ...(e.reasoning ? { reasoning: e.reasoning } : {}),
          ...(calls.length ? { toolCalls: calls } : {}),
        });
        lastCalls = calls;
        resolved.clear();
        awaiting.clear();
        break;
      }
      case 'tool_call_update':
        if (e.status === 'awaiting_permission') awaiting.add(e.callId);
        if ((e.status === 'completed' || e.status === 'failed') && !resolved.has(e.callId)) {
          history.push({
            role: 'tool',
            toolCallId: e.callId,
            name: toolNames.get(e.callId) ?? 'unknown',
            content: e.content ?? '',
            ...(e.status === 'failed' ? { isError: true } : {}),
          });
          resolved.add(e.callId);
          awaiting.delete(e.callId);
        }
        break;
      case 'permission_resolved':
        awaiting.delete(e.callId);
        break;
      default:
        break;
    }
  }
  const unresolvedCalls = lastCalls
    .filter((c) => !resolved.has(c.id))
    .map((c) => ({ ...c, awaitingPermission: awaiting.has(c.id) }));
  return { history, openTurn, unresolvedCalls };
}
