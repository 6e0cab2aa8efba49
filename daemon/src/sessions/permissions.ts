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
  /** The question's permission_request event is on disk: only then is it put to clients. */
  announced: boolean;
}

/**
 * Asks the attached clients of one session; the first answer wins, the others get $/cancelRequest
 * and a permission_resolved event. Questions are logged as events, so a restart can ask again.
 */
export class PermissionBroker {
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly sessionId: string,
    /** Logs an event; the returned promise (if any) settles once it is on disk. */
    private readonly emit: (body: SessionEventBody) => Promise<void> | void,
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
        announced: false,
        resolve: (answer) => {
          signal.removeEventListener('abort', onAbort);
          resolve(answer);
        },
      };
      const onAbort = () => this.settle(requestId, 'cancelled');
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(requestId, entry);
      // A client is asked only once the question is on disk, so a restart can ask it again.
      const logged = this.emit({ type: 'permission_request', requestId, ...question });
      const announce = () => {
        if (this.pending.get(requestId) !== entry) return;
        entry.announced = true;
        for (const client of this.clients()) this.send(entry, client);
      };
      if (logged) logged.then(announce, () => undefined);
      else announce();
    });
  }

  /** A client attached later (or reconnected): it gets every open question too. */
  offerTo(client: SessionClient): void {
    for (const entry of this.pending.values()) if (entry.announced) this.send(entry, client);
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
    // A failed write is the session's to report (its turn ends); the answer stands.
    const logged = this.emit({
      type: 'permission_resolved',
      requestId,
      callId: entry.question.callId,
      outcome,
      ...(by ? { by } : {}),
    });
    if (logged) logged.catch(() => undefined);
    entry.resolve({ outcome, ...(by ? { by } : {}) });
    return true;
  }
}
