import type { SessionEvent, SessionEventBody } from '@shadowbox/protocol';
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

/**
 * The model conversation as a function of the session's events: the one place that turns events into
 * history. A live session applies every event it emits, and a restarted one applies its log, so what the
 * model sees next is always what the log says (no second copy of the rules in the agent loop).
 */
export class Conversation {
  readonly history: ChatMessage[] = [];
  private readonly toolNames = new Map<string, string>();
  private open: string | null = null;
  private lastCalls: { id: string; name: string; arguments: string }[] = [];
  /** Index in history just past the last assistant message: its results follow it, in call order. */
  private resultsFrom = 0;
  private readonly resolved = new Set<string>();
  private readonly awaiting = new Set<string>();

  /** The conversation of a logged session. */
  static fromEvents(events: SessionEvent[]): Conversation {
    const c = new Conversation();
    for (const { event } of events) c.apply(event);
    return c;
  }

  /** Turn that started and has not ended (after a crash: the daemon died during it). */
  get openTurn(): string | null {
    return this.open;
  }

  /** Tool calls of the last assistant message that have no result yet. */
  get unresolvedCalls(): ReplayState['unresolvedCalls'] {
    return this.lastCalls
      .filter((c) => !this.resolved.has(c.id))
      .map((c) => ({ ...c, awaitingPermission: this.awaiting.has(c.id) }));
  }

  /** Folds one event into the conversation (events that do not change it are ignored). */
  apply(e: SessionEventBody): void {
    switch (e.type) {
      case 'user_message':
        this.history.push({ role: 'user', content: e.text });
        break;
      case 'turn_start':
        this.open = e.turnId;
        break;
      case 'turn_end':
        if (this.open === e.turnId) this.open = null;
        // A call of the last assistant message that never got a result (the daemon died while it ran, or
        // max_tokens cut it off) gets one here: providers refuse a tool call without its result, so the
        // session could never be prompted again. Calls awaiting a question stay open: recovery resumes them.
        for (const c of this.lastCalls) {
          if (this.resolved.has(c.id) || this.awaiting.has(c.id)) continue;
          this.addResult({
            role: 'tool',
            toolCallId: c.id,
            name: c.name,
            content: e.stopReason === 'max_tokens' ? CUT_OFF_RESULT : INTERRUPTED_RESULT,
            isError: true,
          });
          this.resolved.add(c.id);
        }
        break;
      case 'assistant_message': {
        const calls = e.toolCalls.map((c) => ({ id: c.callId, name: c.tool, arguments: c.arguments }));
        for (const c of calls) this.toolNames.set(c.id, c.name);
        this.history.push({
          role: 'assistant',
          content: e.text,
          ...(e.reasoning ? { reasoning: e.reasoning } : {}),
          ...(calls.length ? { toolCalls: calls } : {}),
        });
        this.lastCalls = calls;
        this.resultsFrom = this.history.length;
        this.resolved.clear();
        this.awaiting.clear();
        break;
      }
      case 'tool_call_update':
        if (e.status === 'awaiting_permission') this.awaiting.add(e.callId);
        if ((e.status === 'completed' || e.status === 'failed') && !this.resolved.has(e.callId)) {
          this.addResult({
            role: 'tool',
            toolCallId: e.callId,
            name: this.toolNames.get(e.callId) ?? 'unknown',
            content: e.content ?? '',
            ...(e.status === 'failed' ? { isError: true } : {}),
          });
          this.resolved.add(e.callId);
          this.awaiting.delete(e.callId);
        }
        break;
      case 'permission_resolved':
        this.awaiting.delete(e.callId);
        break;
      default:
        break;
    }
  }

  /**
   * Places a result of the last assistant message's calls in the order of the calls, whatever order they
   * finished in (concurrent calls finish in any order; what the model sees must not depend on it).
   */
  private addResult(m: Extract<ChatMessage, { role: 'tool' }>): void {
    const order = (id: string) => this.lastCalls.findIndex((c) => c.id === id);
    const at = order(m.toolCallId);
    let i = this.history.length;
    while (i > this.resultsFrom) {
      const prev = this.history[i - 1];
      if (prev.role !== 'tool' || order(prev.toolCallId) < at) break;
      i--;
    }
    this.history.splice(i, 0, m);
  }
}

/** Rebuilds the model conversation from logged events (user/assistant messages and tool results). */
export function historyFromEvents(events: SessionEvent[]): ReplayState {
  const c = Conversation.fromEvents(events);
  return { history: c.history, openTurn: c.openTurn, unresolvedCalls: c.unresolvedCalls };
}
