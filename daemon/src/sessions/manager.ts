import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ErrorCodes, McpServers, PolicyMode, type SessionInfo, type StopReason } from '@shadowbox/protocol';
import type { z as zt } from 'zod';
import { Conversation, INTERRUPTED_RESULT, runTurn, type AgentTools, type TurnError } from '../agent/index.js';
import type { ModelClient } from '../providers/index.js';
import { isShadowboxError, ShadowboxError } from '../errors.js';
import { type Logger, writeFileAtomic } from '../state/index.js';
import { readClientBuffer } from './buffers.js';
import type { SessionClient } from './client-port.js';
import { EventLog, readEventLog } from './event-log.js';
import { LiveSession, type Mode, type SessionMeta } from './live-session.js';
import type { PermissionOutcome, PermissionQuestion } from './permissions.js';

const Meta = z.object({
  sessionId: z.string(),
  workspace: z.string(),
  model: z.string(),
  mode: PolicyMode,
  title: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  // Optional: metas written before sessions had MCP servers have none. A set that no longer parses
  // is dropped, never the session.
  mcpServers: McpServers.optional().catch(undefined),
});

/** How long create / attach / prompt wait for a session's MCP servers before going on without them. */
export const DEFAULT_OPEN_TIMEOUT_MS = 20_000;

/** What a session's tools get from the session: identity and a way to ask a person. */
export interface SessionToolContext {
  sessionId: string;
  workspace: string;
  mode: () => Mode;
  ask: (q: PermissionQuestion, signal: AbortSignal) => Promise<{ outcome: PermissionOutcome; by?: string }>;
  /** The driver's editor buffer of a workspace-relative path (unsaved changes included), or null: no such buffer, no answer in time, or a driver without `buffers`. */
  readBuffer?: (path: string) => Promise<string | null>;
}

export interface SessionManagerDeps {
  stateDir: string;
  logger: Logger;
  defaultModel: () => Promise<string>;
  defaultMode: Mode;
  maxTurns: number;
  permissionTimeoutMs: number;
  system: (meta: SessionMeta) => string;
  createModel: (spec: string) => ModelClient;
  createTools: (ctx: SessionToolContext) => AgentTools;
  /** Turns the turn's shadow changes into one commit; null when nothing changed. */
  checkpoint: (
    meta: SessionMeta,
    turnId: string,
    summary: string,
  ) => Promise<{ commit: string; files: string[] } | null>;
  onSessionEvent?: (meta: SessionMeta, type: string, data: Record<string, unknown>) => void;
  /**
   * Brings up what a session needs beyond the shared tools (its own MCP servers, from meta.mcpServers):
   * called when a session is created, when it is first used after a daemon start (attach, prompt,
   * tools/list, tools/call) and when its servers change. Must not throw; awaited at most openTimeoutMs.
   */
  onSessionOpen?: (meta: SessionMeta) => Promise<void>;
  /** Bound on onSessionOpen (default 20 s); after it the session goes on without what is still starting. */
  openTimeoutMs?: number;
  /** How long readBuffer waits for the driver's buffer/read answer (default BUFFER_READ_TIMEOUT_MS, 300 ms). */
  bufferReadTimeoutMs?: number;
}

export type SessionInfoT = zt.infer<typeof SessionInfo>;

/**
 * Owns every session: persisted meta + append-only event log per session in the state dir,
 * attach / detach with one driver, prompts run through the agent loop, cancellation, and
 * recovery after a crash (open turns marked interrupted, pending permission questions asked again).
 */
export class SessionManager {
  private readonly sessions = new Map<string, LiveSession>();
  private readonly root: string;
  private readonly tools = new Map<string, AgentTools>();
  /** Per session: the last onSessionOpen (so it runs once per daemon start, and again when the servers change). */
  private readonly opened = new Map<string, Promise<void>>();
  private readonly openDone = new Set<string>();
  /** Sessions that ran a turn or a tool since this daemon started (their live period ends with it). */
  private readonly active = new Set<string>();

  constructor(private readonly deps: SessionManagerDeps) {
    this.root = path.join(deps.stateDir, 'sessions');
  }

  /** Loads every session's meta and repairs what a crash left open. */
  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const id of await readdir(this.root)) {
      const dir = path.join(this.root, id);
      const metaText = await readFile(path.join(dir, 'meta.json'), 'utf8').catch(() => null);
      if (!metaText) continue;
      const parsed = Meta.safeParse(JSON.parse(metaText) as unknown);
      if (!parsed.success) {
        this.deps.logger.warn(`session ${id}: unreadable meta.json, skipped`);
        continue;
      }
      const read = await readEventLog(path.join(dir, 'events.jsonl'));
      const live = new LiveSession(
        parsed.data,
        new EventLog(path.join(dir, 'events.jsonl'), nextSeq(read.events), read.tornTail),
        this.deps.logger,
        this.deps.permissionTimeoutMs,
      );
      live.events = read.events;
      live.prompts = read.events.filter((e) => e.event.type === 'user_message').length;
      // meta.json is saved on changes only; the log's last event is the session's last activity.
      const last = read.events.at(-1)?.time;
      if (last && last > live.meta.updatedAt) live.meta.updatedAt = last;
      this.sessions.set(id, live);
      if (read.tornTail || read.badLines)
        this.deps.logger.warn(
          `session ${id}: ${read.badLines} unreadable log line(s)${read.tornTail ? ', torn last line' : ''}`,
        );
      // Sessions resumed after a crash keep their events loaded; idle ones drop them.
      if (!this.recover(live)) live.events = null;
    }
  }

  /** Repairs a crashed turn; true when a turn was resumed to ask a pending question again. */
  private recover(live: LiveSession): boolean {
    const state = Conversation.fromEvents(live.events ?? []);
    if (!state.openTurn) return false;
    // Calls that were running when the daemon died are not run twice: they fail as interrupted, in the log
    // too, so clients replaying the history do not show them running for ever.
    for (const c of state.unresolvedCalls.filter((u) => !u.awaitingPermission)) {
      live.emit({
        type: 'tool_call_update',
        turnId: state.openTurn,
        callId: c.id,
        status: 'failed',
        content: INTERRUPTED_RESULT,
        code: ErrorCodes.ToolFailed,
        reason: 'interrupted',
        durationMs: 0,
      });
    }
    live.emit({
      type: 'turn_end',
      turnId: state.openTurn,
      stopReason: 'interrupted',
      error: {
        code: ErrorCodes.InternalError,
        reason: 'daemon_restarted',
        message: 'the daemon stopped during this turn',
      },
    });
    live.emit({ type: 'daemon_restarted', interruptedTurn: state.openTurn });
    const awaiting = state.unresolvedCalls.filter((c) => c.awaitingPermission);
    if (awaiting.length === 0) return false;
    // A question that was pending is asked again: resume the turn with the unanswered calls.
    const resumeId = randomUUID();
    live.conversation = Conversation.fromEvents(live.events ?? []);
    const calls = awaiting.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
    void this.startTurn(live, resumeId, null, calls).catch((e: unknown) =>
      this.deps.logger.error(`resume ${live.id}: ${(e as Error).message}`),
    );
    return true;
  }

  get(sessionId: string): LiveSession {
    const s = this.sessions.get(sessionId);
    if (!s)
      throw new ShadowboxError(ErrorCodes.SessionNotFound, 'session_not_found', `no session ${sessionId}`, {
        sessionId,
      });
    return s;
  }

  info(s: LiveSession): SessionInfoT {
    // Never the servers' commands, env or headers (they may hold tokens): only their names.
    const { mcpServers, ...meta } = s.meta;
    return {
      ...meta,
      state: s.state,
      driver: s.driver,
      attached: [...s.attached.keys()],
      events: s.log.nextSeq,
      prompts: s.prompts,
      ...(mcpServers ? { mcpServers: Object.keys(mcpServers) } : {}),
    };
  }

  list(workspace?: string): SessionInfoT[] {
    return [...this.sessions.values()]
      .filter((s) => !workspace || s.meta.workspace === workspace)
      .sort((a, b) => (a.meta.updatedAt < b.meta.updatedAt ? 1 : -1))
      .map((s) => this.info(s));
  }

  /** Latest session on a workspace (for review commands without --session). */
  latest(workspace: string): LiveSession | undefined {
    const id = this.list(workspace)[0]?.sessionId;
    return id ? this.sessions.get(id) : undefined;
  }

  async create(
    p: { workspace: string; model?: string; mode?: Mode; title?: string; mcpServers?: McpServers | undefined },
    client: SessionClient | null,
  ): Promise<LiveSession> {
    const servers = p.mcpServers && Object.keys(p.mcpServers).length > 0 ? p.mcpServers : undefined;
    if (servers) refuseWebServers(client);
    const workspace = await realpath(p.workspace).catch(() => {
      throw new ShadowboxError(
        ErrorCodes.FileNotFound,
        'workspace_not_found',
        `workspace ${p.workspace} does not exist`,
        { workspace: p.workspace },
      );
    });
    if (!(await stat(workspace)).isDirectory())
      throw new ShadowboxError(
        ErrorCodes.NotAFile,
        'workspace_not_directory',
        `workspace ${workspace} is not a directory`,
      );
    const now = new Date().toISOString();
    const meta: SessionMeta = {
      sessionId: randomUUID(),
      workspace,
      model: p.model ?? (await this.deps.defaultModel()),
      mode: p.mode ?? this.deps.defaultMode,
      title: p.title ?? '',
      createdAt: now,
      updatedAt: now,
      ...(servers ? { mcpServers: servers } : {}),
    };
    const dir = path.join(this.root, meta.sessionId);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await this.saveMeta(meta);
    const live = new LiveSession(
      meta,
      new EventLog(path.join(dir, 'events.jsonl'), 0),
      this.deps.logger,
      this.deps.permissionTimeoutMs,
    );
    live.events = [];
    live.conversation = new Conversation();
    this.sessions.set(meta.sessionId, live);
    live.emit({ type: 'session_created', workspace, model: meta.model, mode: meta.mode });
    this.deps.onSessionEvent?.(meta, 'session.start', {
      model: meta.model,
      mode: meta.mode,
      ...(servers ? { mcpServers: Object.keys(servers) } : {}),
    });
    await this.ensureOpen(live);
    if (client) this.attach(live, client, 0, true);
    return live;
  }

  /** A session, with its own MCP servers up (or given up on after openTimeoutMs): for tools/list and tools/call. */
  async open(sessionId: string): Promise<LiveSession> {
    const live = this.get(sessionId);
    await this.ensureOpen(live);
    return live;
  }

  /** Runs onSessionOpen once per session (again after its servers changed), bounded; never throws. */
  private async ensureOpen(live: LiveSession): Promise<void> {
    const hook = this.deps.onSessionOpen;
    if (!hook) return;
    // The common case: opened long ago, nothing to wait for (no timer, no race).
    if (this.openDone.has(live.id)) return;
    let run = this.opened.get(live.id);
    if (!run) {
      const started = hook(live.meta).then(
        // The session's tools are rebuilt with what came up (a running turn keeps the ones it has).
        () => void this.tools.delete(live.id),
        (e: unknown) =>
          this.deps.logger.error(`session ${live.id}: open failed: ${(e as Error)?.message ?? String(e)}`),
      );
      run = started;
      this.opened.set(live.id, started);
      void started.then(() => {
        if (this.opened.get(live.id) === started) this.openDone.add(live.id);
      });
    }
    const ms = this.deps.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      run.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), ms))),
    ]);
    clearTimeout(timer);
    if (timedOut)
      this.deps.logger.warn(
        `session ${live.id}: its MCP servers did not come up within ${ms} ms; going on without them`,
      );
  }

  private readonly metaWrites = new Map<string, Promise<void>>();

  /** Writes meta.json atomically; writes of one session are serialized, so concurrent changes land in order. */
  private saveMeta(meta: SessionMeta): Promise<void> {
    const file = path.join(this.root, meta.sessionId, 'meta.json');
    const write = async () => {
      await writeFileAtomic(file, JSON.stringify(meta, null, 2), { mode: 0o600 });
    };
    const next = (this.metaWrites.get(meta.sessionId) ?? Promise.resolve()).then(write, write);
    this.metaWrites.set(meta.sessionId, next);
    void next
      .finally(() => {
        if (this.metaWrites.get(meta.sessionId) === next) this.metaWrites.delete(meta.sessionId);
      })
      .catch(() => undefined);
    return next;
  }

  private async load(live: LiveSession): Promise<void> {
    if (live.events) return;
    await live.log.flush();
    const read = await readEventLog(live.log.file);
    if (live.events) return;
    live.events = read.events;
  }

  /** Attaches a client: returns history from fromSeq; live events follow. */
  async attachById(sessionId: string, client: SessionClient, fromSeq: number, driver: boolean) {
    const live = this.get(sessionId);
    await this.load(live);
    await this.ensureOpen(live);
    return this.attach(live, client, fromSeq, driver);
  }

  private attach(live: LiveSession, client: SessionClient, fromSeq: number, driver: boolean) {
    const history = (live.events ?? []).filter((e) => e.seq >= fromSeq);
    const first = !live.attached.has(client.id);
    live.attached.set(client.id, client);
    if (first) {
      live.emit({ type: 'client_attached', clientId: client.id, name: client.name, kind: client.kind });
      client.onClose(() => this.detach(live, client.id));
    }
    if (driver || live.driver === null) this.setDriver(live, client.id);
    live.broker.offerTo(client);
    return { session: this.info(live), history };
  }

  detach(live: LiveSession, clientId: string): void {
    if (!live.attached.delete(clientId)) return;
    live.emit({ type: 'client_detached', clientId });
    if (live.driver === clientId) this.setDriver(live, null);
  }

  private setDriver(live: LiveSession, clientId: string | null): void {
    if (live.driver === clientId) return;
    live.driver = clientId;
    live.emit({ type: 'driver_changed', driver: clientId });
  }

  async configure(
    sessionId: string,
    client: SessionClient,
    p: { model?: string | undefined; mode?: Mode | undefined; mcpServers?: McpServers | undefined },
  ): Promise<SessionInfoT> {
    const live = this.get(sessionId);
    this.requireDriver(live, client);
    const next = p.mcpServers && Object.keys(p.mcpServers).length > 0 ? p.mcpServers : undefined;
    // The same set again (an editor loading a session sends its servers every time) changes nothing.
    const serversChange =
      p.mcpServers !== undefined && JSON.stringify(next ?? null) !== JSON.stringify(live.meta.mcpServers ?? null);
    if (serversChange) {
      if (next) refuseWebServers(client);
      if (live.running)
        throw new ShadowboxError(
          ErrorCodes.SessionBusy,
          'turn_running',
          `session ${live.id} is running a turn; change its MCP servers after it ends`,
        );
      // Whatever is still starting finishes first, so the hook sees the changes in order.
      await this.opened.get(live.id);
      // A prompt may have started while we waited: its turn keeps the servers it runs with.
      if (live.running)
        throw new ShadowboxError(
          ErrorCodes.SessionBusy,
          'turn_running',
          `session ${live.id} is running a turn; change its MCP servers after it ends`,
        );
      if (next) live.meta.mcpServers = next;
      else delete live.meta.mcpServers;
      this.opened.delete(live.id);
      this.openDone.delete(live.id);
    }
    if (p.model) live.meta.model = p.model;
    if (p.mode) live.meta.mode = p.mode;
    await this.saveMeta(live.meta);
    this.tools.delete(live.id);
    if (serversChange) await this.ensureOpen(live);
    if (p.model || p.mode || serversChange)
      live.emit({ type: 'settings_changed', model: live.meta.model, mode: live.meta.mode });
    return this.info(live);
  }

  private requireDriver(live: LiveSession, client: SessionClient): void {
    if (live.driver !== client.id) {
      throw new ShadowboxError(
        ErrorCodes.NotDriver,
        'not_driver',
        `client ${client.id} is not the driver of session ${live.id}${live.driver ? ` (${live.driver} is)` : ''}; attach with driver: true to take over`,
        { driver: live.driver },
      );
    }
  }

  /** Runs one prompt; resolves at turn end. */
  async prompt(
    p: { sessionId: string; text: string; maxTurns?: number },
    client: SessionClient,
    cancel: { onCancellationRequested(l: () => void): unknown },
  ) {
    const live = this.get(p.sessionId);
    this.requireDriver(live, client);
    if (live.running)
      throw new ShadowboxError(ErrorCodes.SessionBusy, 'turn_running', `session ${live.id} is already running a turn`);
    // startTurn claims the session before its first await, so a second prompt sent at once is refused.
    const turnId = randomUUID();
    const run = this.startTurn(live, turnId, { text: p.text, clientId: client.id, maxTurns: p.maxTurns }, undefined);
    cancel.onCancellationRequested(() => this.cancel(live.id));
    return run;
  }

  private async startTurn(
    live: LiveSession,
    turnId: string,
    user: { text: string; clientId: string; maxTurns?: number } | null,
    resumeCalls?: { id: string; name: string; arguments: string }[],
  ): Promise<{ turnId: string; stopReason: StopReason; error?: TurnError }> {
    const abort = new AbortController();
    let resolveDone!: () => void;
    live.running = { turnId, abort, done: new Promise<void>((r) => (resolveDone = r)) };
    try {
      await this.load(live);
      await this.ensureOpen(live);
      live.conversation ??= Conversation.fromEvents(live.events ?? []);
      if (!live.meta.title && user) {
        live.meta.title = user.text.split('\n')[0].slice(0, 80);
        await this.saveMeta(live.meta);
      }
      if (user) {
        live.emit({ type: 'user_message', turnId, text: user.text, clientId: user.clientId });
        this.deps.onSessionEvent?.(live.meta, 'prompt', { text: user.text, clientId: user.clientId });
      }
      live.emit({ type: 'turn_start', turnId, model: live.meta.model });
      let result: { stopReason: StopReason; error?: TurnError };
      try {
        const model = this.deps.createModel(live.meta.model);
        result = await runTurn({
          turnId,
          model,
          system: this.deps.system(live.meta),
          conversation: live.conversation,
          tools: this.toolsFor(live),
          emit: (b) => live.emit(b),
          signal: abort.signal,
          limits: { maxTurns: user?.maxTurns ?? this.deps.maxTurns, contextHighWater: 0.8 },
          ...(resumeCalls ? { resumeCalls } : {}),
        });
      } catch (e) {
        const err = isShadowboxError(e)
          ? e
          : new ShadowboxError(ErrorCodes.InternalError, 'internal', (e as Error).message);
        result = { stopReason: 'error', error: { code: err.code, reason: err.reason, message: err.message } };
      }
      live.broker.cancelAll();
      const summary = (user?.text ?? live.meta.title ?? 'resumed turn').split('\n')[0].slice(0, 72) || 'agent turn';
      try {
        const cp = await this.deps.checkpoint(live.meta, turnId, summary);
        if (cp) live.emit({ type: 'checkpoint', turnId, commit: cp.commit, summary, files: cp.files });
      } catch (e) {
        this.deps.logger.error(`checkpoint ${live.id}: ${(e as Error).message}`);
      }
      live.emit({
        type: 'turn_end',
        turnId,
        stopReason: result.stopReason,
        ...(result.error ? { error: result.error } : {}),
      });
      return { turnId, ...result };
    } finally {
      live.running = null;
      resolveDone();
    }
  }

  private toolsFor(live: LiveSession): AgentTools {
    this.active.add(live.id);
    let t = this.tools.get(live.id);
    if (!t) {
      t = this.deps.createTools({
        sessionId: live.id,
        workspace: live.meta.workspace,
        mode: () => live.meta.mode,
        ask: async (q, signal) => {
          live.emit({ type: 'tool_call_update', turnId: q.turnId, callId: q.callId, status: 'awaiting_permission' });
          const answer = await live.broker.ask(q, signal);
          this.deps.onSessionEvent?.(live.meta, 'permission.answer', {
            turnId: q.turnId,
            callId: q.callId,
            tool: q.tool,
            rule: q.rule,
            outcome: answer.outcome,
            ...(answer.by ? { by: answer.by } : {}),
          });
          return answer;
        },
        readBuffer: (rel) =>
          readClientBuffer(
            live.driver === null ? undefined : live.attached.get(live.driver),
            live.id,
            rel,
            this.deps.logger,
            this.deps.bufferReadTimeoutMs,
          ),
      });
      this.tools.set(live.id, t);
    }
    return t;
  }

  /** Tools of a session for tools/list and tools/call (call open() first so its MCP servers are up). */
  sessionTools(sessionId: string): AgentTools {
    return this.toolsFor(this.get(sessionId));
  }

  cancel(sessionId: string): boolean {
    const live = this.get(sessionId);
    if (!live.running) return false;
    live.running.abort.abort();
    live.broker.cancelAll();
    return true;
  }

  respondPermission(sessionId: string, requestId: string, outcome: PermissionOutcome, clientId: string): boolean {
    return this.get(sessionId).broker.respond(requestId, outcome, clientId);
  }

  /** Cancels running turns and flushes every log (daemon stop). */
  async close(): Promise<void> {
    for (const live of this.sessions.values()) {
      const wasRunning = live.running !== null;
      if (live.running) {
        live.running.abort.abort();
        await live.running.done.catch(() => undefined);
      }
      // The session's live period ends with the daemon (it resumes from its log on the next start).
      if (this.active.has(live.id))
        this.deps.onSessionEvent?.(live.meta, 'session.end', { reason: 'daemon_stop', interruptedTurn: wasRunning });
      await live.log.close();
    }
  }
}

/** A session's MCP servers run commands on the daemon host: not something a browser page may ask for. */
function refuseWebServers(client: SessionClient | null): void {
  if (client?.transport === 'websocket') {
    throw new ShadowboxError(
      ErrorCodes.Unauthorized,
      'mcp_servers_not_allowed',
      'MCP servers run commands on the daemon host; only socket and stdio clients may give a session MCP servers',
    );
  }
}

function nextSeq(events: { seq: number }[]): number {
  return events.length ? events[events.length - 1].seq + 1 : 0;
}
