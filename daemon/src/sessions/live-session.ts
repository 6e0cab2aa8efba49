import { type PolicyMode, type McpServers, type SessionEvent, type SessionEventBody } from '@shadowbox/protocol';
import type { Conversation } from '../agent/index.js';
import type { SessionClient } from './client-port.js';
import type { Logger } from '../state/index.js';
import { readEventLog, type EventLog } from './event-log.js';
import { PermissionBroker } from './permissions.js';
import { foldSummary, type SessionSummary } from './summary.js';

export type Mode = PolicyMode;

/** What is persisted in meta.json of a session. */
export interface SessionMeta {
  sessionId: string;
  workspace: string;
  model: string;
  mode: Mode;
  title: string;
  createdAt: string;
  updatedAt: string;
  /** MCP servers of this session only (session/create, session/configure); absent in metas written before they existed. */
  mcpServers?: McpServers;
}

/** A session in memory: its log, attached clients, driver, running turn and open permission questions. */
export class LiveSession {
  readonly attached = new Map<string, SessionClient>();
  driver: string | null = null;
  /** All events, once loaded (attach or prompt); null while the session is idle and unloaded. */
  events: SessionEvent[] | null = null;
  /** The model conversation, folded from every event this session emits; null while the session is unloaded. */
  conversation: Conversation | null = null;
  running: { turnId: string; abort: AbortController; done: Promise<unknown> } | null = null;
  /** Prompts sent so far (user_message events); counted from the log at start. */
  prompts = 0;
  /** Direct tool calls (tools/call) running now: session/cancel aborts them as well. */
  readonly direct = new Set<AbortController>();
  readonly broker: PermissionBroker;
  /** Usage, plan, instruction files and context of the session, folded from every event (kept when unloaded). */
  readonly summary: SessionSummary = {};
  private readonly listeners = new Set<(e: SessionEvent) => void>();
  /** Events emitted while the history was not loaded (merged in by load()). */
  private unloaded: SessionEvent[] = [];

  /** Set while the event log cannot write (a full disk): the running turn ends with it, prompts fail with it. */
  logFailure: unknown = null;
  /** Called when the log starts failing (the manager ends the running turn). */
  onLogFailure: ((e: unknown) => void) | null = null;

  constructor(
    public meta: SessionMeta,
    readonly log: EventLog,
    private readonly logger: Logger,
    permissionTimeoutMs: number,
  ) {
    this.broker = new PermissionBroker(
      meta.sessionId,
      (b) => this.emitDurable(b),
      () => [...this.attached.values()],
      permissionTimeoutMs,
    );
    log.bind({
      onDurable: (batch) => this.fanOut(batch),
      onFailure: (e) => {
        this.logFailure = e;
        if (e === null) {
          this.logger.info(`session ${this.id}: event log writes again`);
          return;
        }
        this.logger.error(
          `session ${this.id}: event log write failed (events wait, unseen, until it succeeds): ${errorText(e)}`,
        );
        this.onLogFailure?.(e);
      },
    });
  }

  get id(): string {
    return this.meta.sessionId;
  }

  get state(): 'idle' | 'running' | 'waiting_permission' {
    if (!this.running) return 'idle';
    return this.broker.size > 0 ? 'waiting_permission' : 'running';
  }

  /**
   * Appends to the log; attached clients and listeners get the event once it is on disk (the log's
   * group commit), so nobody ever sees an event a crash could take back.
   */
  emit(body: SessionEventBody): SessionEvent {
    const event = this.log.append(this.id, body);
    if (this.events) this.events.push(event);
    else this.unloaded.push(event);
    if (body.type === 'user_message') this.prompts++;
    this.conversation?.apply(body);
    foldSummary(this.summary, body);
    this.meta.updatedAt = event.time;
    return event;
  }

  /** Emits and resolves once the event is on disk (and sent); rejects when the write fails. */
  emitDurable(body: SessionEventBody): Promise<void> {
    this.emit(body);
    return this.log.flush();
  }

  /**
   * Loads the event history from disk once (attach, prompt): the log's events below the seq it had
   * reached, plus what was emitted meanwhile. Idempotent.
   */
  async load(): Promise<void> {
    if (this.events) return;
    const upTo = this.log.nextSeq;
    await this.log.flush();
    const read = await readEventLog(this.log.file);
    if (this.events) return;
    this.events = [...read.events.filter((e) => e.seq < upTo), ...this.unloaded.filter((e) => e.seq >= upTo)];
    this.unloaded = [];
  }

  /** Drops the loaded history of an idle session (memory); load() brings it back. */
  unload(): void {
    this.events = null;
    this.conversation = null;
    this.unloaded = [];
  }

  /** Events a client attaching now gets as history: those on disk from `fromSeq` (later ones arrive live). */
  historyFrom(fromSeq: number): SessionEvent[] {
    const durable = this.log.durableSeq;
    return (this.events ?? []).filter((e) => e.seq >= fromSeq && e.seq < durable);
  }

  private fanOut(batch: SessionEvent[]): void {
    for (const event of batch) {
      for (const client of this.attached.values()) {
        if (!client.wantsEvents) continue;
        client.sendEvent(event);
      }
      for (const l of this.listeners) {
        try {
          l(event);
        } catch (e) {
          this.logger.warn(`session ${this.id}: event listener: ${errorText(e)}`);
        }
      }
    }
  }

  /** In-process subscription (ACP bridge tests, CLI run): events once on disk; returns an unsubscribe function. */
  subscribe(listener: (e: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
