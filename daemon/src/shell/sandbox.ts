import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AuditSink } from '../audit/index.js';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { FetchAuthorizer } from '../net/index.js';
import type { OverlayLower, WorkspaceView } from '../shadow/index.js';
import type { Spawner } from '../spawner/index.js';
import { type Logger, workspaceStateDir, mkdirAll } from '../state/index.js';
import { applyUpper, type ApplyResult } from './apply.js';
import { readCacheSummary, recordCacheMoves, type CacheSummary } from './cache.js';
import { deniedPathsIn } from './denied.js';
import { IgnoreRules } from './ignored.js';
import { launch } from './launch.js';
import { DEFAULT_SHELL_LIMITS, makeRunCgroup, prlimitArgs, type ShellLimits } from './limits.js';
import type { OutputChunk } from './output.js';
import type { Program, SandboxProbe } from './probe.js';
import { type ProxyDecision, startRunProxy } from './proxy.js';
import { bwrapArgs, hostIds, sandboxEnv } from './system-view.js';

const run = promisify(execFile);

/** What one command gets: its text, time limit and whether it may reach the network (through the proxy). */
export interface ShellRunInput {
  command: string;
  timeoutMs?: number;
  network?: boolean;
}

/** Where a command runs and what may stop or watch it. */
export interface ShellRunContext {
  sessionId: string;
  /** The session's view (the call's: paths a deny rule keeps from it are refused there). */
  view: WorkspaceView;
  signal: AbortSignal;
  /** The workspace is mounted read-only (read-only mode): writes fail with EROFS. */
  readOnly?: boolean;
  /** Path globs a deny rule keeps from this call: hidden from the command (whiteouts). */
  denied?: readonly { glob: string }[];
  onOutput?: (c: OutputChunk) => void;
  /** The person's policy for the proxy's hosts (required when `network`). */
  authorize?: FetchAuthorizer;
  callId?: string;
}

/** How a command ended and what it changed. */
export interface ShellRunResult extends ApplyResult {
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  stdout: string;
  stderr: string;
  combined: string;
  truncated: boolean;
  totalBytes: number;
  /** Hosts a networked run asked for and the proxy's answers; null without network. */
  network: ProxyDecision[] | null;
  readOnly: boolean;
  /** Where the time went (ms): writing the pending layer, the command (with the sandbox's start), reading back its writes. */
  timings: { setupMs: number; runMs: number; applyMs: number };
}

/** What the sandbox needs from the rest of the daemon. */
export interface ShellSandboxDeps {
  stateDir: string;
  probe: SandboxProbe;
  limits?: Partial<ShellLimits>;
  /** The session's pending changes as an overlay layer (the shadow service). */
  writeOverlayLower: (
    t: { sessionId: string; workspace: string },
    dir: string,
    opts: { whiteout: string; hide: string[] },
  ) => Promise<OverlayLower>;
  audit?: AuditSink;
  logger: Logger;
  git?: string | null;
  /** The host environment the allowlist reads (default: the daemon's). */
  env?: NodeJS.ProcessEnv;
  /** What starts bubblewrap (the daemon's spawner process, so no run forks the daemon); default: a direct spawn. */
  spawner?: Spawner;
}

/** Per session: its cache layer, the shared whiteout, one run at a time. */
interface SessionDirs {
  root: string;
  cache: string;
  whiteout: string;
  summary: string;
  queue: Promise<unknown>;
}

/**
 * Why: a command runs on the agent's pending changes — the real workspace read-only at the bottom, the
 * session's layer above it, its build cache above that, a fresh upper folder on top — inside bubblewrap,
 * and what it wrote becomes reviewable shadow changes. One run at a time per session (they share the
 * cache layer); runs of different sessions are independent.
 */
export class ShellSandbox {
  readonly limits: ShellLimits;
  private readonly sessions = new Map<string, Promise<SessionDirs>>();
  private readonly running = new Set<AbortController>();
  private closed = false;

  constructor(private readonly deps: ShellSandboxDeps) {
    this.limits = { ...DEFAULT_SHELL_LIMITS, ...deps.limits };
  }

  /** Refuses with what is missing and how to enable it, when this machine cannot run the sandbox. */
  private requireAvailable(network: boolean): Record<Program, string> {
    const p = this.deps.probe;
    if (!p.available)
      throw new ShadowboxError(
        ErrorCodes.SandboxUnavailable,
        p.reason ?? 'bwrap_failed',
        `the host command sandbox cannot run here: ${p.missing.join('; ')}`,
        { missing: p.missing },
      );
    if (network && !p.socat)
      throw new ShadowboxError(
        ErrorCodes.SandboxUnavailable,
        'network_unavailable',
        'a networked command needs socat inside the sandbox (the proxy bridge): `sudo apt-get install socat`',
        { missing: ['socat is not installed: `sudo apt-get install socat`'] },
      );
    return p.programs as Record<Program, string>;
  }

  private dirsOf(sessionId: string, workspace: string): Promise<SessionDirs> {
    const key = `${workspace}\0${sessionId}`;
    let d = this.sessions.get(key);
    if (!d) {
      d = (async () => {
        const root = path.join(workspaceStateDir(this.deps.stateDir, workspace), 'sandbox', sessionId);
        const cache = path.join(root, 'cache');
        const whiteout = path.join(root, 'whiteout');
        await mkdirAll(cache, 0o700);
        await mkdirAll(path.join(root, 'runs'));
        // Runs a crash (or kill -9) left behind are finished with: their changes never reached the layer.
        await rm(path.join(root, 'runs'), { recursive: true, force: true });
        await mkdir(path.join(root, 'runs'));
        // One 0/0 character device (an overlay whiteout; anyone may make one): every deletion links to it.
        if (!(await lstat(whiteout).catch(() => null))?.isCharacterDevice())
          await run(this.deps.probe.programs.mknod!, [whiteout, 'c', '0', '0']);
        return { root, cache, whiteout, summary: path.join(root, 'cache.json'), queue: Promise.resolve() };
      })();
      this.sessions.set(key, d);
      d.catch(() => this.sessions.delete(key));
    }
    return d;
  }

  /** The build output a session's commands left in its cache layer (review's count and `--include-ignored`). */
  async ignored(sessionId: string, workspace: string): Promise<CacheSummary> {
    const root = path.join(workspaceStateDir(this.deps.stateDir, workspace), 'sandbox', sessionId);
    return readCacheSummary(path.join(root, 'cache.json'));
  }

  /** Runs one command in the session's sandbox (serialized per session). */
  async run(input: ShellRunInput, ctx: ShellRunContext): Promise<ShellRunResult> {
    if (this.closed) throw new ShadowboxError(ErrorCodes.ShuttingDown, 'shutting_down', 'the daemon is stopping');
    const programs = this.requireAvailable(input.network === true);
    const l = this.limits;
    if (input.timeoutMs !== undefined && input.timeoutMs > l.maxTimeoutMs)
      throw new ShadowboxError(
        ErrorCodes.ToolInputInvalid,
        'timeout_above_limit',
        `a time limit of ${input.timeoutMs / 1000} s was asked; the most allowed is ${l.maxTimeoutMs / 1000} s (config shell.maxTimeoutMs)`,
        { timeoutMs: input.timeoutMs, maxTimeoutMs: l.maxTimeoutMs },
      );
    if (input.network && !ctx.authorize)
      throw new ShadowboxError(ErrorCodes.PermissionDenied, 'policy_denied', 'network needs the policy', {});
    const workspace = ctx.view.root;
    const dirs = await this.dirsOf(ctx.sessionId, workspace);
    const next = dirs.queue.then(() => this.runIn(dirs, programs, workspace, input, ctx));
    dirs.queue = next.catch(() => undefined);
    return next;
  }

  private async runIn(
    dirs: SessionDirs,
    programs: Record<Program, string>,
    workspace: string,
    input: ShellRunInput,
    ctx: ShellRunContext,
  ): Promise<ShellRunResult> {
    const t0 = performance.now();
    const runDir = path.join(dirs.root, 'runs', randomBytes(6).toString('hex'));
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((d) => path.join(runDir, d));
    const readOnly = ctx.readOnly === true;
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal.aborted) abort.abort();
    this.running.add(abort);
    let proxy: Awaited<ReturnType<typeof startRunProxy>> | null = null;
    try {
      for (const d of readOnly ? [lower, merged] : [lower, upper, work, merged]) await mkdirAll(d);
      const hide = [...(await this.stateDirInside(workspace)), ...(await deniedPathsIn(workspace, ctx.denied ?? []))];
      const layer = await this.deps.writeOverlayLower({ sessionId: ctx.sessionId, workspace }, lower, {
        whiteout: dirs.whiteout,
        hide,
      });
      if (layer.opaque.length > 0)
        await run(programs.setfattr, ['-n', 'user.overlay.opaque', '-v', 'y', '--', ...layer.opaque]);
      if (input.network)
        proxy = await startRunProxy({
          authorize: ctx.authorize!,
          ...(this.deps.audit ? { audit: this.deps.audit } : {}),
          workspace,
          sessionId: ctx.sessionId,
          ...(ctx.callId ? { callId: ctx.callId } : {}),
        });
      const cgroup = await makeRunCgroup(this.deps.probe.cgroup, this.limits, this.deps.logger);
      const ids = hostIds();
      const env = sandboxEnv(this.deps.env ?? process.env, input.network === true);
      const t1 = performance.now();
      const launched = await launch(
        {
          command: input.command,
          lowerDirs: [dirs.cache, lower, workspace],
          upper: readOnly ? null : { upper, work },
          merged,
          bwrap: bwrapArgs(
            {
              workspace,
              merged,
              // With a path denied, no repository history either (its objects hold the denied paths: denied.ts).
              gitDirs: ctx.denied?.length ? [] : await gitDirsOf(workspace),
              proxySocket: proxy?.socket ?? null,
              ...ids,
              tmpBytes: this.limits.tmpBytes,
            },
            env,
          ),
          prlimit: prlimitArgs(this.limits),
          programs,
          socat: input.network ? this.deps.probe.socat : null,
          cgroup,
          timeoutMs: input.timeoutMs ?? this.limits.timeoutMs,
          maxOutputBytes: this.limits.maxOutputBytes,
          signal: abort.signal,
          ...(ctx.onOutput ? { onOutput: ctx.onOutput } : {}),
        },
        this.deps.spawner,
      ).finally(() => void cgroup?.remove());
      const t2 = performance.now();
      if (launched.setupError !== undefined)
        throw new ShadowboxError(
          ErrorCodes.SandboxFailed,
          'sandbox_setup_failed',
          `the sandbox could not be set up; the command did not run: ${launched.setupError}`,
          { detail: launched.setupError.slice(0, 2000) },
        );
      let applied: ApplyResult = { changed: [], refused: [], ignored: [], renamed: [] };
      // What the command wrote before it ended (also after a timeout or cancel) is reviewed like any write.
      if (!readOnly && !this.closed) {
        applied = await applyUpper({
          upper,
          cache: dirs.cache,
          view: ctx.view,
          rules: new IgnoreRules(ctx.view),
          git: this.deps.git ?? null,
          getfattr: programs.getfattr,
        });
        if (applied.ignored.length > 0) await recordCacheMoves(dirs.summary, applied.ignored);
      }
      const t3 = performance.now();
      const { setupError: _setup, ...rest } = launched;
      return {
        ...rest,
        ...applied,
        network: proxy ? proxy.decisions() : null,
        readOnly,
        timings: { setupMs: t1 - t0, runMs: t2 - t1, applyMs: t3 - t2 },
      };
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.running.delete(abort);
      await proxy?.close().catch(() => undefined);
      await rm(runDir, { recursive: true, force: true }).catch((e: unknown) =>
        this.deps.logger.warn(`shell: could not remove ${runDir}: ${(e as Error).message}`),
      );
    }
  }

  /** The state dir's path in the workspace when it lies inside it (hidden from every command). */
  private async stateDirInside(workspace: string): Promise<string[]> {
    const state = await realpath(this.deps.stateDir).catch(() => path.resolve(this.deps.stateDir));
    const rel = path.relative(workspace, state);
    return rel === '' || rel.startsWith('..') || path.isAbsolute(rel) ? [] : [rel.split(path.sep).join('/')];
  }

  /** Ends every running command (daemon stop): one SIGKILL each, the whole process tree with it. */
  close(): void {
    this.closed = true;
    for (const a of this.running) a.abort();
  }
}

/**
 * The `.git` folders a command may read (bound read-only at their own paths): the workspace's own, or for a
 * worktree the folder its `.git` file names and that folder's common dir; for a workspace below its
 * repository's root, that root's `.git`.
 */
export async function gitDirsOf(workspace: string): Promise<string[]> {
  for (let dir = workspace; ; dir = path.dirname(dir)) {
    const dotGit = path.join(dir, '.git');
    const st = await lstat(dotGit).catch(() => null);
    if (st?.isDirectory()) return [dotGit];
    if (st?.isFile()) {
      const m = /^gitdir:\s*(.+)$/m.exec(await readFile(dotGit, 'utf8').catch(() => ''));
      if (!m) return [];
      const gitdir = path.resolve(dir, m[1].trim());
      const common = (await readFile(path.join(gitdir, 'commondir'), 'utf8').catch(() => '')).trim();
      return [gitdir, ...(common ? [path.resolve(gitdir, common)] : [])].filter(
        (d, i, all) => all.indexOf(d) === i && !all.some((o, j) => j !== i && d.startsWith(o + path.sep)),
      );
    }
    if (path.dirname(dir) === dir) return [];
  }
}
