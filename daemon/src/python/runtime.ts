import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import {
  closeDetached,
  detachedUnchanged,
  pagesFor,
  rewriteRefusal,
  runInprocess,
  WorkerPool,
  type CompileReply,
  type DetachedData,
  type InprocessDeps,
  type MemoryLimits,
  type WasiRunRequest,
  type WasiRunResult,
} from '../wasi/index.js';
import { createFetchBridge, type FetchBridge } from '../net/index.js';
import { openStdlib, type OpenStdlib } from './stdlib.js';
import type {
  PythonBundleFiles,
  PythonModuleClaim,
  PythonNetFetch,
  PythonRunContext,
  PythonRunInput,
  PythonRunResult,
} from './types.js';

/** Limits for one run; the tool input may lower the timeout, never raise it past maxTimeoutMs. */
export interface PythonLimits {
  timeoutMs: number;
  maxTimeoutMs: number;
  memoryMb: number;
  /** Cap per stream (stdout, stderr); past it the run stops with error.reason "output_limit". */
  maxOutputBytes: number;
  /** Bytes the guest may add to files in one run (/tmp and its changes to /workspace); past it: ENOSPC. */
  maxFileBytes: number;
}

/** Defaults: 30 s (max 120 s), 1 GiB memory, 8 MiB per output stream, 256 MiB of file growth. */
export const DEFAULT_PYTHON_LIMITS: PythonLimits = {
  timeoutMs: 30_000,
  maxTimeoutMs: 120_000,
  memoryMb: 1024,
  maxOutputBytes: 8 * 1024 * 1024,
  maxFileBytes: 256 * 1024 * 1024,
};

/** How warm() ended: the priming run completed, was not started (a real call came first), or was aborted by one. */
export type WarmOutcome = 'primed' | 'skipped' | 'taken_over';

export interface PythonSandboxOptions {
  /** The throwaway program's argv after `python3` (tests make it slow). */
  primeArgv?: string[];
  /**
   * What the installed bundle claims its module is, read without any check (PythonDeps.claimBundle): compiling
   * starts from it while `loadBundle` checks the bundle, and its result is used only when the checked bundle names
   * the same file, hash and size.
   */
  claimBundle?: () => Promise<PythonModuleClaim | null>;
}

/** How long prepare() waits, once the bundle is checked, for a claim that is not in yet (PythonSandboxOptions.claimBundle). */
const CLAIM_WAIT_MS = 1000;

/** Whether two bundles name the same module file, with the same hash and size. */
const sameModule = (a: PythonModuleClaim, b: PythonModuleClaim) =>
  a.module.path === b.module.path && a.module.sha256 === b.module.sha256 && a.module.size === b.module.size;

/** Runs a worker may serve before it is replaced (each run is still a new instance with new file systems). */
const MAX_RUNS_PER_WORKER = 100;

interface Prepared {
  key: string;
  module: object;
  maxPages: number;
  /** The limits of the memory the module imports (its own memory, made an import so a worker reuses it). */
  memory: MemoryLimits | undefined;
  /** CPython's data segments, left in python.wasm and read into each instance (closed with the stdlib's files). */
  data: DetachedData | undefined;
  /** The bundle's lib/ tree (the stdlib zip and landmarks), open, read on demand by the runs' read-only /usr/local. */
  stdlib: OpenStdlib;
}

/**
 * Runs CPython (the pre-initialized python.wasm) through the WASI runtime's in-process runner: a
 * new instance per call in a pooled worker, /usr/local = the stdlib (read-only), /workspace = the
 * session's shadow view served lazily (a directory is listed, a file read, only when the guest
 * touches it; changes are applied to the view at exit), /tmp in memory.
 */
export class PythonSandbox {
  private prepared: Promise<Prepared> | null = null;
  /** What `prepared` resolved to (retire() drops it only while it is still the current one). */
  private current: Prepared | null = null;
  private readonly pool = new WorkerPool(1, MAX_RUNS_PER_WORKER);
  private warmedUp: Promise<WarmOutcome> | null = null;
  /** Real calls started so far; a priming run only starts while this is 0. */
  private calls = 0;
  /** Aborts the priming run in flight (a real call takes over). */
  private priming: AbortController | null = null;
  private closed = false;
  /** Real calls in flight, and who waits for there to be none (idle()). */
  private running = 0;
  private idleWaiters: Array<() => void> = [];

  private readonly primeArgv: string[];
  private compileCount = 0;
  private readonly claimBundle: (() => Promise<PythonModuleClaim | null>) | undefined;

  constructor(
    private readonly loadBundle: () => Promise<PythonBundleFiles>,
    private readonly limits: PythonLimits,
    private readonly netFetch: PythonNetFetch | undefined,
    opts: PythonSandboxOptions = {},
  ) {
    this.primeArgv = opts.primeArgv ?? ['-c', 'pass'];
    this.claimBundle = opts.claimBundle;
  }

  /**
   * prepare() (bundle, compile, stdlib, pooled worker), then one throwaway run in a separate
   * one-off worker. The run is not for that worker: V8 compiles a wasm function on its first call
   * and shares the code between workers, so one run anywhere makes every later first run ~10 ms
   * instead of 50–120 ms. The pooled worker stays free: a real call never queues behind the
   * throwaway run — one that starts before it skips it, one that starts during it aborts it and
   * compiles what is left itself.
   */
  warm(): Promise<WarmOutcome> {
    this.warmedUp ??= this.prime();
    this.warmedUp.catch(() => {
      this.warmedUp = null;
    });
    return this.warmedUp;
  }

  /** Modules compiled so far: one per prepare when the early compile was used, two when it was dropped (tests). */
  get compiles(): number {
    return this.compileCount;
  }

  /** Whether the throwaway run is in flight (tests, bench). */
  get isPriming(): boolean {
    return this.priming !== null;
  }

  private async prime(): Promise<WarmOutcome> {
    // Compiled in the pooled worker, which the call needs anyway; its read of the module is freed once compiled
    // (worker/compile.ts). Closed while it was prepared: nothing to prime (acquire refuses then).
    const p = await this.acquire().catch((e: unknown) => {
      if (this.closed) return null;
      throw e;
    });
    if (!p) return 'skipped';
    if (this.calls > 0 || this.closed) {
      p.stdlib.release();
      return 'skipped';
    }
    // Spawned only now, for the throwaway run alone: a call that came first needs no second worker's start beside
    // it (~55 ms of CPU on the way to its answer, on two cores), and this one's whole heap goes when it is closed.
    let side: WorkerPool | undefined;
    const abort = new AbortController();
    this.priming = abort;
    try {
      side = new WorkerPool(1, 1);
      side.fill();
      const r = await this.runOn(
        p,
        {
          module: { sha256: p.key, load: () => Promise.reject(new Error('unused')) },
          mounts: { readOnly: [{ at: '/usr/local', files: p.stdlib.files }], tmp: true },
          cwd: '/',
          argv: ['python3', ...this.primeArgv],
          env: { PWD: '/tmp', HOME: '/tmp', PYTHONHOME: '/usr/local' },
          limits: { wallMs: 60_000, memoryBytes: p.maxPages * 65536, stdoutBytes: 65536, stderrBytes: 65536 },
          signal: abort.signal,
        },
        {
          pool: side,
          module: p.module,
          maxPages: p.maxPages,
          ...(p.memory ? { memory: p.memory } : {}),
          ...(p.data ? { data: p.data } : {}),
          fetch: createFetchBridge(null),
        },
      );
      return r.outcome === 'cancelled' ? 'taken_over' : 'primed';
    } finally {
      this.priming = null;
      p.stdlib.release();
      await side?.close();
    }
  }

  /**
   * The prepared state, its stdlib held for one run: prepared again when a stdlib file is no longer the one opened
   * (reinstalled, changed or replaced on disk: the new prepare checks the bundle again), so a run never starts on a
   * changed file; one that changes during a run fails that run's reads (EIO) and the run's result says so.
   */
  private async acquire(): Promise<Prepared> {
    const closedError = () => new ShadowboxError(ErrorCodes.InternalError, 'internal', 'the python sandbox is closed');
    for (let attempt = 1; ; attempt++) {
      if ((attempt > 1 && this.closed) || attempt > 5) throw closedError();
      // Closed during the prepare, the compile's worker was stopped under it: that is the sandbox closing.
      const p = await this.prepare().catch((e: unknown) => {
        throw this.closed ? closedError() : e;
      });
      if (!p.stdlib.acquire()) continue;
      // A third prepare that still finds a changed file runs on it: its reads fail closed and the result says so.
      if (attempt >= 3 || (p.stdlib.unchanged() && (!p.data || detachedUnchanged(p.data)))) return p;
      p.stdlib.release();
      this.retire(p);
    }
  }

  /** Drops a prepared state (the next call prepares again); its stdlib is closed once no run holds it. */
  private retire(p: Prepared): void {
    if (this.current === p) {
      this.current = null;
      this.prepared = null;
    }
    p.stdlib.retire();
  }

  /**
   * Spawns the pooled worker, compiles the module in it and opens the stdlib's files once.
   * Rejects (and can be retried) when the bundle is missing.
   */
  private prepare(): Promise<Prepared> {
    this.pool.fill();
    this.prepared ??= (async () => {
      const maxPages = pagesFor(this.limits.memoryMb * 1024 * 1024);
      // The module is read, hashed and refused unless it has the hash and size asked for, rewritten (its memory
      // capped and made an import, so the pooled worker hands one memory, zeroed, from call to call) and compiled
      // in the pooled worker, off this thread. That starts from what the installed manifest claims while the
      // bundle's signature and files are checked (40-90 ms of a loaded main thread right after a start): the
      // compiled module is used only when the checked bundle names the same file, hash and size — the code that
      // runs is the signed code — and is dropped otherwise (a bundle reinstalled meanwhile, a claim that failed its
      // check), the checked module then compiled. Compiling bytes that are never run is what V8 does for any web
      // page, and the rewrite parses the model's own modules for run_wasm already.
      // Every compile's reply may hold a descriptor (its detached data): each one not kept is closed once it comes.
      const replies: Promise<CompileReply>[] = [];
      let kept: CompileReply | null = null;
      const compile = (m: PythonBundleFiles['module']) => {
        this.compileCount++;
        const r = this.pool.compile({ ...m, maxPages, detachData: true });
        replies.push(r);
        return r;
      };
      const dropUnkept = () => {
        for (const r of replies)
          void r.then(
            (c) => c !== kept && c.ok && closeDetached(c.data),
            () => undefined,
          );
      };
      // Never rejects: a claim that fails, throws or cannot be compiled (no worker) is no claim.
      const early = Promise.resolve()
        .then(() => this.claimBundle?.() ?? null)
        .then((claim) => (claim ? { claim, compiled: Promise.resolve().then(() => compile(claim.module)) } : null))
        .catch(() => null);
      // A checked bundle that fails, or differs, leaves the early compile unused: its outcome is not one to report.
      void early.then((e) => e?.compiled.catch(() => undefined));
      try {
        const b = await this.loadBundle();
        // The claim only ever saves time: one still not in a second after the check is done is not waited for.
        let giveUp: NodeJS.Timeout | undefined;
        const e = await Promise.race([
          early,
          new Promise<null>((r) => (giveUp = setTimeout(() => r(null), CLAIM_WAIT_MS).unref())),
        ]).finally(() => clearTimeout(giveUp));
        const usedEarly = e !== null && sameModule(e.claim, b);
        // Opened beside the compile; a file that is not the one checked fails the prepare (file_mismatch).
        const opened = Promise.resolve().then(() => openStdlib(b.filesDir, b.lib));
        const [first, stdlib] = await Promise.all([usedEarly ? e.compiled : compile(b.module), opened]).catch(
          async (err: unknown) => {
            // A compile that failed leaves no descriptor open.
            await opened.then((o) => o.retire()).catch(() => undefined);
            throw err;
          },
        );
        // The early read refused (the file was being replaced then: a reinstall of the same entry): the checked file
        // now.
        const compiled =
          usedEarly && !first.ok
            ? await compile(b.module).catch((err: unknown) => {
                stdlib.retire();
                throw err;
              })
            : first;
        if (!compiled.ok) {
          stdlib.retire();
          if (compiled.reason !== 'file_mismatch') throw rewriteRefusal({ ...compiled, reason: compiled.reason });
          throw new ShadowboxError(ErrorCodes.BundleVerificationFailed, 'file_mismatch', compiled.message, {
            path: b.module.path,
          });
        }
        const { module, memory, data } = compiled;
        kept = compiled;
        // The data segments' descriptor is closed with the stdlib's files: once retired and no run holds them.
        if (data) stdlib.alsoClose(() => closeDetached(data));
        // The pooled worker instantiates CPython ahead of each call (its ~9 MB memory image read off the call's path).
        this.pool.prepareAhead(module, `${b.module.sha256}:${maxPages}`, memory, data);
        const p: Prepared = { key: b.module.sha256, module, maxPages, memory, data, stdlib };
        this.current = p;
        if (this.closed) this.retire(p);
        return p;
      } finally {
        // Also when the early compile was not waited for: its reply, when it comes, is dropped.
        dropUnkept();
        void early.then((e) =>
          e?.compiled.then(
            () => dropUnkept(),
            () => undefined,
          ),
        );
      }
    })();
    this.prepared.catch(() => {
      this.prepared = null;
    });
    return this.prepared;
  }

  async run(input: PythonRunInput, ctx: PythonRunContext): Promise<PythonRunResult> {
    const t0 = performance.now();
    const argv = ['python3', ...pythonArgv(input)];
    // The first real call takes over from warm(): no priming run starts after this, one in flight stops.
    this.calls++;
    this.priming?.abort();
    this.running++;
    try {
      const prepared = await this.acquire();
      try {
        return await this.runPrepared(prepared, input, ctx, argv, t0);
      } finally {
        prepared.stdlib.release();
      }
    } finally {
      if (--this.running === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** Resolves when no real call is in flight: at once when none is, else when the last of those in flight ends. */
  idle(): Promise<void> {
    if (this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async runPrepared(
    prepared: Prepared,
    input: PythonRunInput,
    ctx: PythonRunContext,
    argv: string[],
    t0: number,
  ): Promise<PythonRunResult> {
    const stdin = typeof input.stdin === 'string' ? Buffer.from(input.stdin) : (input.stdin ?? new Uint8Array());
    // Above the cap is refused, never cut silently (the caller asked for more time than it gets).
    if (input.timeoutMs !== undefined && input.timeoutMs > this.limits.maxTimeoutMs) {
      throw new ShadowboxError(
        ErrorCodes.ToolInputInvalid,
        'timeout_above_limit',
        `a time limit of ${input.timeoutMs / 1000} s was asked; the most allowed is ${this.limits.maxTimeoutMs / 1000} s (config python.maxTimeoutMs)`,
        { timeoutMs: input.timeoutMs, maxTimeoutMs: this.limits.maxTimeoutMs },
      );
    }
    const timeoutMs = Math.min(input.timeoutMs ?? this.limits.timeoutMs, this.limits.maxTimeoutMs);
    const env = { ...(input.env ?? {}), PWD: '/workspace', HOME: '/tmp', PYTHONHOME: '/usr/local', LANG: 'C.UTF-8' };
    const r = await this.runOn(
      prepared,
      {
        module: { sha256: prepared.key, load: () => Promise.reject(new Error('unused')) },
        mounts: {
          readOnly: [{ at: '/usr/local', files: prepared.stdlib.files }],
          workspace: ctx.view,
          workspaceAccess: 'rw',
          tmp: true,
        },
        // The launcher chdirs to $PWD itself; '/' keeps the preopens to /usr/local, /workspace and /tmp.
        cwd: '/',
        argv,
        env,
        stdin,
        limits: {
          wallMs: timeoutMs,
          memoryBytes: prepared.maxPages * 65536,
          stdoutBytes: this.limits.maxOutputBytes,
          stderrBytes: this.limits.maxOutputBytes,
          fsBytes: this.limits.maxFileBytes,
        },
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        ...(ctx.sessionId ? { sessionId: ctx.sessionId } : {}),
        ...(ctx.onOutput ? { onOutput: liveText(ctx.onOutput) } : {}),
        // The launcher looks for /workspace/.venv before anything runs.
        listWorkspaceAhead: true,
      },
      {
        pool: this.pool,
        module: prepared.module,
        moduleKey: `${prepared.key}:${prepared.maxPages}`,
        maxPages: prepared.maxPages,
        ...(prepared.memory ? { memory: prepared.memory } : {}),
        ...(prepared.data ? { data: prepared.data } : {}),
        // The module always imports shadowbox.net_fetch; without a handler every request is refused.
        fetch: this.fetchBridge(ctx),
      },
    );
    return toResult(r, t0);
  }

  /**
   * One run on `p`, which is retired (the next call prepares again and checks the bundle again) when python.wasm
   * changed after it was checked (its data segments are read from it into each instance: nothing ran) or a stdlib
   * file changed during the run (its reads failed, the result says so).
   */
  private async runOn(p: Prepared, req: WasiRunRequest, deps: InprocessDeps): Promise<WasiRunResult> {
    const r = await runInprocess(req, deps).catch((e: unknown) => {
      if (isShadowboxError(e, ErrorCodes.BundleVerificationFailed)) this.retire(p);
      throw e;
    });
    if (r.hostFault) this.retire(p);
    return r;
  }

  /** The run's `shadowbox.net_fetch`: the netFetch handler (policy-checked), or refused when there is none. */
  private fetchBridge(ctx: PythonRunContext): FetchBridge {
    const netFetch = this.netFetch;
    return createFetchBridge(
      netFetch
        ? (req, o) =>
            netFetch(req, {
              maxBytes: o.maxBytes,
              signal: ctx.signal ? AbortSignal.any([ctx.signal, o.signal]) : o.signal,
              ...(ctx.sessionId ? { sessionId: ctx.sessionId } : {}),
            })
        : null,
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.priming?.abort();
    await this.pool.close();
    if (this.current) this.retire(this.current);
  }
}

/** Maps the WASI runner's result to the python tool's: exit code as python3, limits as `error`. */
function toResult(r: WasiRunResult, t0: number): PythonRunResult {
  let error: PythonRunResult['error'] = null;
  if (r.hostFault) error = { reason: r.hostFault.reason, message: r.hostFault.message };
  else if (r.outcome === 'output_limit')
    error = { reason: 'output_limit', message: r.trapMessage ?? 'output exceeded its limit' };
  else if (r.exitCode === null && (r.outcome === 'trap' || r.outcome === 'memory_limit')) {
    error = { reason: r.outcome, message: r.trapMessage ?? r.outcome };
  }
  return {
    exitCode: r.outcome === 'output_limit' ? null : r.exitCode,
    stdout: Buffer.from(r.stdout).toString('utf8'),
    stderr: Buffer.from(r.stderr).toString('utf8'),
    durationMs: Math.round((performance.now() - t0) * 10) / 10,
    timedOut: r.outcome === 'timeout',
    cancelled: r.outcome === 'cancelled',
    error,
    changed: r.changed,
    ...(r.refusedWrites?.length ? { refusedWrites: r.refusedWrites } : {}),
    ...(r.timings ? { timings: r.timings } : {}),
    ...(r.memoryReused ? { memoryReused: true } : {}),
  };
}

/** The python3 argv (after the program name) for an input: -c CODE, -m MOD or FILE, then args. */
export function pythonArgv(input: PythonRunInput): string[] {
  const args = input.args ?? [];
  const given = [input.code !== undefined, input.file !== undefined, input.module !== undefined].filter(Boolean).length;
  if (given > 1)
    throw new ShadowboxError(ErrorCodes.ToolInputInvalid, 'ambiguous_program', 'give only one of code, file or module');
  if (input.code !== undefined) return ['-c', input.code, ...args];
  if (input.module !== undefined) return ['-m', input.module, ...args];
  if (input.file !== undefined) {
    const f = input.file.replace(/^\.\//, '');
    if (f.startsWith('/') || f.split('/').includes('..')) {
      throw new ShadowboxError(
        ErrorCodes.PathOutsideWorkspace,
        'path_escape',
        `file must be a path inside the workspace: ${input.file}`,
        { path: input.file },
      );
    }
    return [`/workspace/${f}`, ...args];
  }
  return ['-', ...args];
}

/** Bytes of each stream as text, a multi-byte character split across two reads kept whole. */
function liveText(
  onOutput: (stream: 'stdout' | 'stderr', text: string) => void,
): (stream: 'stdout' | 'stderr', bytes: Uint8Array) => void {
  const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  return (stream, bytes) => onOutput(stream, decoders[stream].decode(bytes, { stream: true }));
}
