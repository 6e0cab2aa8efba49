import { randomUUID } from 'node:crypto';
import { readdir, realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, type ImageBlock, type McpServers, type SessionInfo } from '@shadowbox/protocol';
import { Conversation, type AgentTools } from '../agent/index.js';
import { ShadowboxError } from '../errors.js';
import { inLanes, mapDiskFull, mkdirAll } from '../state/index.js';
import type { SessionClient } from './client-port.js';
import type { SessionManagerDeps } from './deps.js';
import { EventLog, openEventLog } from './event-log.js';
import { LiveSession, type Mode, type SessionMeta } from './live-session.js';
import { readLogIndex, writeLogIndex } from './log-index.js';
import { MetaStore } from './meta-store.js';
import type { PermissionOutcome } from './permissions.js';
import { DEFAULT_OPEN_TIMEOUT_MS, SessionOpener } from './session-opener.js';
import { SessionOps } from './session-ops.js';
import { SessionTools } from './session-tools.js';
import { foldSummary } from './summary.js';
import { TurnRunner } from './turn-runner.js';

export { DEFAULT_OPEN_TIMEOUT_MS };
export type { SessionManagerDeps, SessionToolContext } from './deps.js';

export type SessionInfoT = SessionInfo;

/**
 * Owns every session: persisted meta + append-only event log per session in the state dir,
 * attach / detach with one driver, prompts run through the agent loop, cancellation, and
 * recovery after a crash (open turns marked interrupted, pending permission questions asked again).
 */
export class SessionManager {
  private readonly sessions = new Map<string, LiveSession>();
  /** The next seq each session's log index was written (or read) at: close() rewrites only those that moved on. */
  private readonly indexedSeq = new Map<string, number>();
  private readonly metas: MetaStore;
  private readonly tools: SessionTools;
  private readonly opener: SessionOpener;
  private readonly turns: TurnRunner;
  private readonly ops: SessionOps;

  constructor(private readonly deps: SessionManagerDeps) {
    this.metas = new MetaStore(path.join(deps.stateDir, 'sessions'), deps.logger);
    this.tools = new SessionTools(deps);
    this.opener = new SessionOpener(
      deps.onSessionOpen,
      deps.logger,
      deps.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS,
      (id) => this.tools.invalidate(id),
    );
    this.turns = new TurnRunner(deps, this.metas, this.opener, this.tools);
    this.ops = new SessionOps(deps);
  }

  /**
   * Loads every session's meta and repairs what a crash left open: a torn log tail is cut off
   * (logged), a session whose meta.json is unreadable is quarantined (logged, moved aside) instead of
   * stopping the daemon, open turns are ended as interrupted. A log its index still describes is not
   * read (load()).
   */
  async init(): Promise<void> {
    await mkdirAll(this.metas.root, 0o700);
    const ids = (await readdir(this.metas.root)).filter((id) => !id.startsWith('.'));
    // Eight sessions at a time: each is several file operations (meta, log, repair), and one after another they
    // were the daemon's start at scale (193 small sessions: ready 610–765 ms against 190–280 with none).
    await inLanes(ids, 8, (id) => this.load(id));
    // The repairs are on disk before any client can attach.
    await Promise.all([...this.sessions.values()].map((l) => l.log.flush()));
  }

  /**
   * One session from disk: its meta, then what a start needs of its log (its summary, prompts, next seq) from the
   * log's index when the log is still the one it describes (log-index.ts); else the log read whole, a torn tail
   * cut off, a turn a crash left open ended, and the index written for the next start.
   */
  private async load(id: string): Promise<void> {
    const meta = await this.metas.read(id);
    if (!meta) return;
    const file = path.join(this.metas.dir(id), 'events.jsonl');
    const index = await readLogIndex(file);
    if (index) {
      // Idle and unloaded, as a session read whole and found idle is: its events are read on attach or prompt.
      const live = this.makeLive(meta, new EventLog(file, index.nextSeq, { ...this.logOptions(), size: index.size }));
      Object.assign(live.summary, index.summary);
      live.prompts = index.prompts;
      if (index.updatedAt > live.meta.updatedAt) live.meta.updatedAt = index.updatedAt;
      this.indexedSeq.set(id, index.nextSeq);
      this.sessions.set(id, live);
      return;
    }
    const { log, read } = await openEventLog(file, {
      onRepair: (bytes) =>
        this.deps.logger.warn(`session ${id}: cut a torn last line (${bytes} bytes) off events.jsonl`),
      ...this.logOptions(),
    });
    const live = this.makeLive(meta, log);
    live.events = read.events;
    for (const e of read.events) foldSummary(live.summary, e.event);
    live.prompts = read.events.filter((e) => e.event.type === 'user_message').length;
    // meta.json is saved on changes only; the log's last event is the session's last activity.
    const last = read.events.at(-1)?.time;
    if (last && last > live.meta.updatedAt) live.meta.updatedAt = last;
    this.sessions.set(id, live);
    if (read.badLines) this.deps.logger.warn(`session ${id}: ${read.badLines} unreadable log line(s) skipped`);
    // Sessions resumed after a crash keep their events loaded; idle ones drop them.
    if (this.turns.recover(live)) return;
    live.unload();
    if (live.log.durableSeq === live.log.nextSeq) await this.saveIndex(live);
  }

  /** Keeps what a start needs of an idle session's log beside it (log-index.ts). */
  private async saveIndex(live: LiveSession): Promise<void> {
    await writeLogIndex(live.log.file, {
      nextSeq: live.log.nextSeq,
      prompts: live.prompts,
      updatedAt: live.meta.updatedAt,
      summary: live.summary,
    });
    this.indexedSeq.set(live.id, live.log.nextSeq);
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
      prompts: s.prompts,
      ...(mcpServers ? { mcpServers: Object.keys(mcpServers) } : {}),
      ...(s.summary.usage ? { usage: s.summary.usage } : {}),
      ...(s.summary.instructions ? { instructions: s.summary.instructions } : {}),
      ...(s.summary.plan ? { plan: s.summary.plan } : {}),
      ...(s.summary.context ? { context: s.summary.context } : {}),
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
    const dir = this.metas.dir(meta.sessionId);
    const live = this.makeLive(meta, new EventLog(path.join(dir, 'events.jsonl'), 0, this.logOptions()));
    try {
      await mapDiskFull(dir, () => mkdirAll(dir, 0o700));
      await this.metas.save(meta);
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
    await this.opener.ensure(live);
    if (client) this.attach(live, client, 0, true);
    await live.log.flush();
    return live;
  }

  /** A session, with its own MCP servers up (or given up on after openTimeoutMs): for tools/list and tools/call. */
  async open(sessionId: string): Promise<LiveSession> {
    const live = this.get(sessionId);
    await this.opener.ensure(live);
    await this.deps.toolsReady?.();
    return live;
  }

  /** Attaches a client: returns history from fromSeq; live events follow. */
  async attachById(sessionId: string, client: SessionClient, fromSeq: number, driver: boolean) {
    const live = this.get(sessionId);
    await live.load();
    await this.opener.ensure(live);
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
      await this.opener.settled(live.id);
      // A prompt may have started while we waited: its turn keeps the servers it runs with.
      if (live.running)
        throw new ShadowboxError(
          ErrorCodes.SessionBusy,
          'turn_running',
          `session ${live.id} is running a turn; change its MCP servers after it ends`,
        );
      if (next) live.meta.mcpServers = next;
      else delete live.meta.mcpServers;
      this.opener.reset(live.id);
    }
    if (p.model) live.meta.model = p.model;
    if (p.mode) live.meta.mode = p.mode;
    await this.metas.save(live.meta);
    this.tools.invalidate(live.id);
    if (serversChange) await this.opener.ensure(live);
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
    p: { sessionId: string; text: string; maxTurns?: number; images?: ImageBlock[]; command?: string },
    client: SessionClient,
    cancel: { onCancellationRequested(l: () => void): unknown },
  ) {
    const live = this.get(p.sessionId);
    this.requireDriver(live, client);
    if (live.running)
      throw new ShadowboxError(ErrorCodes.SessionBusy, 'turn_running', `session ${live.id} is already running a turn`);
    if (p.images?.length && !this.deps.createModel(live.meta.model).images)
      throw new ShadowboxError(
        ErrorCodes.InvalidParams,
        'images_not_supported',
        `${live.meta.model} does not take images; send the prompt without them, switch to a model that does (/model), or set "models": {"${live.meta.model}": {"images": true}} in config.json if it does`,
        { model: live.meta.model },
      );
    // startTurn claims the session before its first await, so a second prompt sent at once is refused.
    const turnId = randomUUID();
    const run = this.turns.start(live, turnId, {
      text: p.text,
      clientId: client.id,
      maxTurns: p.maxTurns,
      ...(p.images?.length ? { images: p.images } : {}),
      ...(p.command ? { command: p.command } : {}),
    });
    cancel.onCancellationRequested(() => this.cancel(live.id));
    const result = await run;
    // The answer follows the turn's events: turn_end is on disk and sent before the prompt returns.
    await live.log.flush();
    return result;
  }

  /** Rewinds a session to the end of an earlier turn: its conversation (a `rewind` event) and its shadow workspace. */
  rewind(p: { sessionId: string; toTurn?: string | number | undefined }, client: SessionClient) {
    const live = this.get(p.sessionId);
    this.requireDriver(live, client);
    return this.ops.rewind(live, p.toTurn, client.id);
  }

  /** Summarizes the older turns now (`/compact`), as the loop does near the context window. */
  compact(p: { sessionId: string }, client: SessionClient, cancel: AbortSignal) {
    const live = this.get(p.sessionId);
    this.requireDriver(live, client);
    return this.ops.compact(live, cancel);
  }

  /** Tools of a session for tools/list and tools/call (call open() first so its MCP servers are up). */
  sessionTools(sessionId: string): AgentTools {
    return this.tools.for(this.get(sessionId));
  }

  /**
   * Tracks a direct tool call (tools/call) so session/cancel stops it too, and keeps the session's log open
   * while it runs (its events come in two or three batches: one open and close instead of one per batch);
   * returns the untrack function.
   */
  trackCall(sessionId: string, abort: AbortController): () => void {
    const live = this.get(sessionId);
    live.direct.add(abort);
    live.log.hold(true);
    let tracked = true;
    return () => {
      if (!tracked) return;
      tracked = false;
      live.direct.delete(abort);
      live.log.hold(false);
    };
  }

  /**
   * Whether any session is at work: a turn claimed (from its prompt's acceptance, before onTurnStart, to its end), an
   * exclusive operation (rewind, compact) or a client's direct tool call.
   */
  busy(): boolean {
    for (const live of this.sessions.values()) if (live.running || live.direct.size > 0) return true;
    return false;
  }

  cancel(sessionId: string): boolean {
    const live = this.get(sessionId);
    const direct = live.direct.size > 0;
    for (const a of live.direct) a.abort();
    if (!live.running) return direct;
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
      if (this.tools.active.has(live.id))
        this.deps.onSessionEvent?.(live.meta, 'session.end', { reason: 'daemon_stop', interruptedTurn: wasRunning });
      await live.log.close();
      // Its index for the next start, when nothing is in flight (a direct call still running at the stop is ended
      // by the next start's full read) and something was appended since the index was last written.
      const settled = !live.running && live.direct.size === 0 && live.log.durableSeq === live.log.nextSeq;
      if (settled && this.indexedSeq.get(live.id) !== live.log.nextSeq) await this.saveIndex(live);
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
