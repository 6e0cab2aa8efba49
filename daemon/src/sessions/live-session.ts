import { type PolicyMode, type McpServers, type SessionEvent, type SessionEventBody } from '@shadowbox/protocol';
import type { Conversation } from '../agent/index.js';
import type { SessionClient } from './client-port.js';
import type { Logger } from '../state/index.js';
import { type EventLog } from './event-log.js';
import { PermissionBroker } from './permissions.js';

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
  readonly broker: PermissionBroker;
  private readonly listeners = new Set<(e: SessionEvent) => void>();

  constructor(
    public meta: SessionMeta,
    readonly log: EventLog,
    private readonly logger: Logger,
    permissionTimeoutMs: number,
  ) {
    this.broker = new PermissionBroker(
      meta.sessionId,
      (b) => this.emit(b),
      () => [...this.attached.values()],
      permissionTimeoutMs,
    );
  }

  get id(): string {
    return this.meta.sessionId;
  }

  get state(): 'idle' | 'running' | 'waiting_permission' {
    if (!this.running) return 'idle';
    return this.broker.size > 0 ? 'waiting_permission' : 'running';
  }

  /** Appends to the log, then fans out to every attached client and in-process listener. */
  emit(body: SessionEventBody): SessionEvent {
    const { event, written } = this.log.append(this.id, body);
    written.catch((e: unknown) =>
      this.logger.error(`session ${this.id}: event log write failed: ${(e as Error).message}`),
    );
    this.events?.push(event);
    if (body.type === 'user_message') this.prompts++;
    this.conversation?.apply(body);
    this.meta.updatedAt = event.time;
    for (const client of this.attached.values()) {
      if (!client.wantsEvents) continue;
      client.sendEvent(event);
    }
    for (const l of this.listeners) l(event);
    return event;
  }

  /** In-process subscription (ACP bridge tests, CLI run); returns an unsubscribe function. */
  subscribe(listener: (e: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
