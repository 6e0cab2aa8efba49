import { randomUUID } from 'node:crypto';
import { PermissionRequest, type SessionEventBody, type ToolKind } from '@shadowbox/protocol';
import type { SessionClient } from './client-port.js';

export type PermissionOutcome = 'allow_once' | 'allow_session' | 'allow_project' | 'deny' | 'cancelled' | 'timeout';

/** A question for a person about one tool call. */
export interface PermissionQuestion {
  turnId: string;
  callId: string;
  tool: string;
  kind: ToolKind;
  summary: string;
  input: unknown;
  rule: string;
  options: Array<'allow_once' | 'allow_session' | 'allow_project' | 'deny'>;
}

interface Pending {
  requestId: string;
  question: PermissionQuestion;
  resolve: (answer: { outcome: PermissionOutcome; by?: string }) => void;
  asked: Map<string, AbortController>;
  timer: NodeJS.Timeout;
}

/**
 * Asks the attached clients of one session; the first answer wins, the others get $/cancelRequest
 * and a permission_resolved event. Questions are logged as events, so a restart can ask again.
 */
export class PermissionBroker {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly sessionId: string,
    private readonly emit: (body: SessionEventBody) => void,
    private readonly clients: () => SessionClient[],
    private readonly timeoutMs: number,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  ask(question: PermissionQuestion, signal: AbortSignal): Promise<{ outcome: PermissionOutcome; by?: string }> {
    if (signal.aborted) return Promise.resolve({ outcome: 'cancelled' });
    const requestId = randomUUID();
    return new Promise((resolve) => {
      const entry: Pending = {
        requestId,
        question,
        asked: new Map(),
        timer: setTimeout(() => this.settle(requestId, 'timeout'), this.timeoutMs),
        resolve: (answer) => {
          signal.removeEventListener('abort', onAbort);
          resolve(answer);
        },
      };
      const onAbort = () => this.settle(requestId, 'cancelled');
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(requestId, entry);
      this.emit({ type: 'permission_request', requestId, ...question });
      for (const client of this.clients()) this.send(entry, client);
    });
  }

  /** A client attached later (or reconnected): it gets every open question too. */
  offerTo(client: SessionClient): void {
    for (const entry of this.pending.values()) this.send(entry, client);
  }

  /** An answer arriving by permission/respond; false when the question is gone or was answered. */
  respond(requestId: string, outcome: PermissionOutcome, by: string): boolean {
    return this.settle(requestId, outcome, by);
  }

  /** Answers every open question "cancelled" (turn cancelled, daemon stopping). */
  cancelAll(): void {
    for (const id of [...this.pending.keys()]) this.settle(id, 'cancelled');
  }

  private send(entry: Pending, client: SessionClient): void {
    if (!client.canAnswerPermissions || entry.asked.has(client.id)) return;
    const source = new AbortController();
    entry.asked.set(client.id, source);
    client
      .askPermission({ sessionId: this.sessionId, requestId: entry.requestId, ...entry.question }, source.signal)
      .then((result) => {
        const parsed = PermissionRequest.result.safeParse(result);
        if (parsed.success) this.settle(entry.requestId, parsed.data.outcome, client.id);
      })
      .catch(() => {
        // The client went away or cancelled: others (or the timeout) still decide.
        entry.asked.delete(client.id);
      });
  }

  private settle(requestId: string, answer: PermissionOutcome, by?: string): boolean {
    const entry = this.pending.get(requestId);
    if (!entry) return false;
    // An allow the question did not offer (it would not take effect) counts as allow once.
    const offered = (entry.question.options as string[]).includes(answer);
    const outcome: PermissionOutcome = !offered && answer.startsWith('allow_') ? 'allow_once' : answer;
    this.pending.delete(requestId);
    clearTimeout(entry.timer);
    for (const [clientId, source] of entry.asked) if (clientId !== by) source.abort();
    this.emit({
      type: 'permission_resolved',
      requestId,
      callId: entry.question.callId,
      outcome,
      ...(by ? { by } : {}),
    });
    entry.resolve({ outcome, ...(by ? { by } : {}) });
    return true;
  }
}
