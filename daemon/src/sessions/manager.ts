import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ErrorCodes, McpServers, PolicyMode, type SessionInfo, type StopReason } from '@shadowbox/protocol';
import type { z as zt } from 'zod';
import { Conversation, INTERRUPTED_RESULT, runTurn, type AgentTools, type TurnError } from '../agent/index.js';
import type { ModelClient } from '../providers/index.js';
import { isShadowboxError, ShadowboxError } from '../errors.js';
import { type Logger, mapDiskFull, writeFileAtomic } from '../state/index.js';
import { readClientBuffer } from './buffers.js';
import type { SessionClient } from './client-port.js';
import { EventLog, openEventLog } from './event-log.js';
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
  /** Called when a session goes idle (its turn ended): release what it holds open (shadow layer files). Must not throw. */
  onSessionIdle?: (meta: SessionMeta) => Promise<void>;
  /** Wait before an event log retries a failed write (default 500 ms). */
  logRetryMs?: number;
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

  /**
   * Loads every session's meta and repairs what a crash left open: a torn log tail is cut off
   * (logged), a session whose meta.json is unreadable is quarantined (logged, moved aside) instead of
   * stopping the daemon, open turns are ended as interrupted.
   */
  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    for (const id of await readdir(this.root)) {
      if (id.startsWith('.')) continue;
      const dir = path.join(this.root, id);
      const meta = await this.readMeta(id, dir);
      if (!meta) continue;
      const file = path.join(dir, 'events.jsonl');
      const { log, read } = await openEventLog(file, {
        onRepair: (bytes) =>
          this.deps.logger.warn(`session ${id}: cut a torn last line (${bytes} bytes) off events.jsonl`),
        ...this.logOptions(),
      });
      const live = this.makeLive(meta, log);
      live.events = read.events;
      this.sessions.set(id, live);
      if (read.badLines) this.deps.logger.warn(`session ${id}: ${read.badLines} unreadable log line(s) skipped`);
      // Sessions resumed after a crash keep their events loaded; idle ones drop them.
      if (!this.recover(live)) live.unload();
    }
    // The repairs are on disk before any client can attach.
    await Promise.all([...this.sessions.values()].map((l) => l.log.flush()));
  }

  /** A session's meta, or null: a session folder without one is skipped; an unreadable one is quarantined. */
  private async readMeta(id: string, dir: string): Promise<SessionMeta | null> {
    const metaText = await readFile(path.join(dir, 'meta.json'), 'utf8').catch((e: NodeJS.ErrnoException) =>
      e.code === 'ENOENT' || e.code === 'ENOTDIR' ? null : Promise.reject(e),
    );
    if (metaText === null) return null;
    let problem: string;
    try {
      const parsed = Meta.safeParse(JSON.parse(metaText) as unknown);
      if (parsed.success && parsed.data.sessionId === id) return parsed.data;
      problem = parsed.success ? `names session ${parsed.data.sessionId}` : z.prettifyError(parsed.error);
    } catch (e) {
      problem = `not JSON (${(e as Error).message})`;
    }
    const aside = path.join(this.root, `.quarantine-${id}-${Date.now()}`);
    await rename(dir, aside).catch(() => undefined);
    this.deps.logger.error(
      `session ${id}: meta.json is unreadable (${problem.replace(/\s+/g, ' ')}); the session is quarantined in ${aside}`,
    );
    return null;
  }

  private logOptions(): { retryMs?: number } {
    return this.deps.logRetryMs !== undefined ? { retryMs: this.deps.logRetryMs } : {};
  }

  /** A LiveSession whose log failures end its running turn. */
  private makeLive(meta: SessionMeta, log: EventLog): LiveSession {
    const live = new LiveSession(meta, log, this.deps.logger, this.deps.permissionTimeoutMs);
    live.onLogFailure = () => {
      if (live.running) {
        live.running.abort.abort();
        live.broker.cancelAll();
      }
    };
    return live;
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
      events: s.log.durableSeq,
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
    const live = this.makeLive(meta, new EventLog(path.join(dir, 'events.jsonl'), 0, this.logOptions()));
    try {
      await mapDiskFull(dir, () => mkdir(dir, { recursive: true, mode: 0o700 }));
      await this.saveMeta(meta);
      live.events = [];
      live.conversation = new Conversation();
      this.sessions.set(meta.sessionId, live);
      live.emit({ type: 'session_created', workspace, model: meta.model, mode: meta.mode });
      await live.log.flush();
    } catch (e) {
      // A session that could not be written whole does not exist: nothing half-made stays behind.
      this.sessions.delete(meta.sessionId);
      await live.log.close();
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
    this.deps.onSessionEvent?.(meta, 'session.start', {
      model: meta.model,
      mode: meta.mode,
      ...(servers ? { mcpServers: Object.keys(servers) } : {}),
    });
    await this.ensureOpen(live);
    if (client) this.attach(live, client, 0, true);
    await live.log.flush();
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

  /** Attaches a client: returns history from fromSeq; live events follow. */
  async attachById(sessionId: string, client: SessionClient, fromSeq: number, driver: boolean) {
    const live = this.get(sessionId);
    await live.load();
    await this.ensureOpen(live);
    // What was emitted before the attach is written first, so the history has it (when the disk is full,
    // it arrives live once written).
    await live.log.flush().catch(() => undefined);
    const result = this.attach(live, client, fromSeq, driver);
    // The response follows the events the attach caused (client_attached, driver_changed).
    await live.log.flush();
    return result;
  }

  private attach(live: LiveSession, client: SessionClient, fromSeq: number, driver: boolean) {
    // Only events already on disk; the rest reach this client live (it is attached before they are written).
    const history = live.historyFrom(fromSeq);
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
    await live.log.flush();
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
    const result = await run;
    // The answer follows the turn's events: turn_end is on disk and sent before the prompt returns.
    await live.log.flush();
    return result;
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
    // The turn streams batch after batch: its log stays open until the turn ends.
    live.log.hold(true);
    try {
      await live.load();
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
      if (live.logFailure !== null) {
        // The log could not be written (a full disk): the turn was stopped; say why when it ends.
        const f = live.logFailure;
        result = isShadowboxError(f)
          ? { stopReason: 'error', error: { code: f.code, reason: f.reason, message: f.message } }
          : {
              stopReason: 'error',
              error: {
                code: ErrorCodes.InternalError,
                reason: 'event_log_failed',
                message: f instanceof Error ? f.message : 'event log write failed',
              },
            };
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
      live.log.hold(false);
      resolveDone();
      // An idle session holds no file open (thousands of sessions under the default descriptor limit). Not
      // awaited: the answer does not wait for it; the shadow's session lock orders it with the next use.
      void this.deps
        .onSessionIdle?.(live.meta)
        .catch((e: unknown) => this.deps.logger.warn(`session ${live.id}: release: ${(e as Error).message}`));
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
