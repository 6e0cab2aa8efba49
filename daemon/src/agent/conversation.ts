import type { SessionEvent, SessionEventBody } from '@shadowbox/protocol';
import type { ChatMessage } from '../providers/index.js';
import { isDirectTurn } from './direct-call.js';

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

/** The first words of the user message that stands for the summarized part of the conversation. */
export const SUMMARY_PREFIX = '[shadowbox: the earlier part of this conversation, summarized]';

/**
 * The model conversation as a function of the session's events: the one place that turns events into
 * history. A live session applies every event it emits, and a restarted one applies its log, so what the
 * model sees next is always what the log says (no second copy of the rules in the agent loop). A
 * `compaction` event puts a summary in place of the messages before its `keepFrom`; a `rewind` event cuts
 * the conversation back to where the first rewound turn began (dropping compactions made after that).
 */
export class Conversation {
  /** Every message, compacted or not (indexes are what `compaction.keepFrom` counts). */
  private readonly all: ChatMessage[] = [];
  /** Compactions in effect, oldest first: the last one decides what the model sees. */
  private compactions: { keepFrom: number; summary: string; at: number }[] = [];
  /** Turns in effect, in order, with the message count when each began. */
  private turns: { turnId: string; start: number; prompt: boolean }[] = [];
  private readonly toolNames = new Map<string, string>();
  private open: string | null = null;
  private lastCalls: { id: string; name: string; arguments: string }[] = [];
  /** Index in history just past the last assistant message: its results follow it, in call order. */
  private resultsFrom = 0;
  private readonly resolved = new Set<string>();
  private readonly awaiting = new Set<string>();
  /** Clients' direct calls (tools/call) started and not ended: callId → turnId. */
  private readonly direct = new Map<string, string>();

  /** The conversation of a logged session. */
  static fromEvents(events: SessionEvent[]): Conversation {
    const c = new Conversation();
    for (const { event } of events) c.apply(event);
    return c;
  }

  /** What the model sees: the latest summary (as a user message) and the messages after it. */
  get history(): ChatMessage[] {
    const c = this.compactions.at(-1);
    if (!c) return this.all.slice();
    return [{ role: 'user', content: `${SUMMARY_PREFIX}\n\n${c.summary}` }, ...this.all.slice(c.keepFrom)];
  }

  /** Every message of the turns in effect, compacted ones included (compaction picks from these). */
  get messages(): readonly ChatMessage[] {
    return this.all;
  }

  /** Index in `messages` where the model's view begins after the summary (0: nothing compacted). */
  get keptFrom(): number {
    return this.compactions.at(-1)?.keepFrom ?? 0;
  }

  /** The summary in effect, or null. */
  get summary(): string | null {
    return this.compactions.at(-1)?.summary ?? null;
  }

  /** Ids of the turns in effect (rewound ones left out), oldest first. */
  get turnIds(): string[] {
    return this.turns.map((t) => t.turnId);
  }

  /** The turns in effect, oldest first; `prompt` is false for a turn that resumed after a restart. */
  get turnList(): ReadonlyArray<{ turnId: string; prompt: boolean }> {
    return this.turns;
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

  /** Clients' direct calls (tools/call) that started and never ended (the daemon died while they ran). */
  get openDirectCalls(): { callId: string; turnId: string }[] {
    return [...this.direct].map(([callId, turnId]) => ({ callId, turnId }));
  }

  /** A turn seen for the first time (its user message, or a resumed turn's start) begins at the current end. */
  private beginTurn(turnId: string, prompt: boolean): void {
    if (this.turns.at(-1)?.turnId !== turnId && !this.turns.some((t) => t.turnId === turnId))
      this.turns.push({ turnId, start: this.all.length, prompt });
  }

  /** Folds one event into the conversation (events that do not change it are ignored). */
  apply(e: SessionEventBody): void {
    // A client's direct call is not part of the conversation: the model never asked for it.
    if (
      (e.type === 'tool_call' || e.type === 'tool_call_update') &&
      (e.origin === 'client' || isDirectTurn(e.turnId))
    ) {
      if (e.type === 'tool_call') this.direct.set(e.callId, e.turnId);
      else if (e.status === 'completed' || e.status === 'failed') this.direct.delete(e.callId);
      return;
    }
    switch (e.type) {
      case 'user_message':
        this.beginTurn(e.turnId, true);
        this.all.push({
          role: 'user',
          content: e.text,
          ...(e.images?.length ? { images: e.images.map((i) => ({ mimeType: i.mimeType, data: i.data })) } : {}),
        });
        break;
      case 'turn_start':
        this.beginTurn(e.turnId, false);
        this.open = e.turnId;
        break;
      case 'compaction':
        this.compactions.push({
          keepFrom: Math.min(e.keepFrom, this.all.length),
          summary: e.summary,
          at: this.all.length,
        });
        break;
      case 'rewind': {
        const at = this.turns.findIndex((t) => e.rewound.includes(t.turnId));
        if (at < 0) break;
        const start = this.turns[at].start;
        this.all.length = start;
        this.turns = this.turns.slice(0, at);
        this.compactions = this.compactions.filter((c) => c.at <= start);
        this.resultsFrom = start;
        this.lastCalls = [];
        this.resolved.clear();
        this.awaiting.clear();
        this.open = null;
        break;
      }
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
        this.all.push({
          role: 'assistant',
          content: e.text,
          ...(e.reasoning ? { reasoning: e.reasoning } : {}),
          ...(calls.length ? { toolCalls: calls } : {}),
        });
        this.lastCalls = calls;
        this.resultsFrom = this.all.length;
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
    let i = this.all.length;
    while (i > this.resultsFrom) {
      const prev = this.all[i - 1];
      if (prev.role !== 'tool' || order(prev.toolCallId) < at) break;
      i--;
    }
    this.all.splice(i, 0, m);
  }
}

/** Rebuilds the model conversation from logged events (user/assistant messages and tool results). */
export function historyFromEvents(events: SessionEvent[]): ReplayState {
  const c = Conversation.fromEvents(events);
  return { history: c.history, openTurn: c.openTurn, unresolvedCalls: c.unresolvedCalls };
}
