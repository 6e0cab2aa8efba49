import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Compile, CompileReply, DetachedData, MemoryLimits, Prepare } from './worker/protocol.js';

/** Set by scripts/bundle.mjs in the daemon's bundle: the worker's single-file build, relative to this file's folder. */
declare const SHADOWBOX_WASI_WORKER_BUNDLE: string | undefined;

/**
 * The worker entry: in the daemon's bundle, the worker's own bundle beside it (one file to load, not ~20);
 * otherwise the compiled entry beside this file in dist/; when this file runs from src/ (vitest runs the
 * sources), the copy in dist/ that vitest's globalSetup (scripts/vitest-wasi-worker.mjs) compiled.
 */
export function workerEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (typeof SHADOWBOX_WASI_WORKER_BUNDLE === 'string') {
    const bundled = join(here, SHADOWBOX_WASI_WORKER_BUNDLE);
    if (existsSync(bundled)) return bundled;
  }
  const beside = join(here, 'worker', 'entry.js');
  if (existsSync(beside)) return beside;
  const built = join(here.replace(/([\\/])src([\\/]wasi)$/, '$1dist$2'), 'worker', 'entry.js');
  if (!existsSync(built)) throw new Error(`the sandbox worker is not built (${built}): run npx tsc -b daemon`);
  return built;
}

/** A worker handed out for one run, how many runs it has served, and whether its thread has stopped. */
export interface WorkerSlot {
  worker: Worker;
  runs: number;
  exited: boolean;
}

/**
 * Pre-spawned workers (spawning costs ~40 ms), `size` of them waiting ready with the host loaded.
 * Each run is a new wasm instance with new file systems. By default a worker serves one run and
 * is then terminated (nothing of a run, not even JIT or JS heap state, reaches the next);
 * `maxRunsPerWorker` > 1 lets a worker whose run ended normally serve again (faster, weaker).
 * A worker whose run timed out, was cancelled or crashed is always terminated. A waiting worker
 * whose thread stops (e.g. killed at its heap cap while instantiating the next run's module) leaves
 * the pool at once: handed out, it would take a job it can never answer, and the call would wait out
 * its whole time limit and report a timeout it never had.
 */
export class WorkerPool {
  private readonly ready: WorkerSlot[] = [];
  private closed = false;
  /**
   * Workers out on a run. In a pool that reuses workers they count toward its size: each comes back
   * ready after its run, and a refill that spawned another meanwhile would leave the pool full then,
   * so the worker that came back was terminated — and every later call got a fresh, unreused worker.
   */
  private busy = 0;
  private readonly entry = workerEntry();
  /** A module every new worker instantiates ahead of its first job. */
  private ahead: Prepare | null = null;

  constructor(
    private readonly size: number,
    private readonly maxRunsPerWorker = 1,
  ) {}

  /** Whether a worker serves more than one run (so it is worth preparing the next instance). */
  get reusesWorkers(): boolean {
    return this.maxRunsPerWorker > 1;
  }

  /**
   * Has every waiting and future worker instantiate `module` ahead of its first job with `moduleKey`
   * (instantiation copies the module's data segments: ~9 MB for CPython's pre-initialized memory);
   * `memory`: the limits of the memory it imports, when it does (see InprocessDeps.memory); `data`: its data
   * segments left in its file (InprocessDeps.data).
   */
  prepareAhead(module: object, moduleKey: string, memory?: MemoryLimits, data?: DetachedData): void {
    this.ahead = { type: 'prepare', module, moduleKey, ...(memory ? { memory } : {}), ...(data ? { data } : {}) };
    for (const s of this.ready) s.worker.postMessage(this.ahead);
  }

  /**
   * Reads, checks and compiles a module file in a worker (worker/compile.ts): a waiting one, which goes on
   * waiting for its job, or a one-off worker when every worker is out. A job posted to that worker meanwhile starts
   * when it arrives (V8 compiles off the worker's thread); its run, synchronous, holds the reply back until it ends.
   * The file is opened here, without following a symlink and without blocking (a FIFO swapped in would otherwise
   * hang the open): a descriptor a worker opens is closed when that worker stops, and a reply's `data` keeps this
   * one (the caller then owns it: closeDetached); otherwise it is closed once the reply comes. Rejects only when
   * the worker stops first; a refused file or module is a CompileReply.
   */
  compile(req: Omit<Compile, 'type' | 'port' | 'fd'> & { path: string }): Promise<CompileReply> {
    let fd: number;
    try {
      fd = openSync(req.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      return Promise.resolve({
        ok: false,
        reason: 'file_mismatch',
        message: `cannot read the module: ${(e as Error).message}`,
      });
    }
    let slot: WorkerSlot | undefined;
    let oneOff: boolean;
    try {
      this.fill();
      slot = this.ready.find((s) => !s.exited);
      oneOff = slot === undefined;
      slot ??= this.spawn();
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    const worker = slot.worker;
    const { port1, port2 } = new MessageChannel();
    const { path: _path, ...rest } = req;
    return new Promise<CompileReply>((resolve, reject) => {
      // The worker's side of the channel closes when its thread stops: no reply is coming then.
      port1.once('close', () => reject(new Error('the sandbox worker stopped before the module was compiled')));
      port1.once('message', (r: CompileReply) => {
        port1.removeAllListeners('close');
        port1.close();
        resolve(r);
      });
      worker.postMessage({ type: 'compile', ...rest, fd, port: port2 } satisfies Compile, [port2]);
    })
      .then(
        (r) => {
          if (!(r.ok && r.data)) closeSync(fd);
          return r;
        },
        (e: unknown) => {
          closeSync(fd);
          throw e;
        },
      )
      .finally(() => {
        if (oneOff) void worker.terminate().catch(() => undefined);
      });
  }

  /** Spawns workers up to the pool size (counting those out on a run that will come back). */
  fill(): void {
    const out = this.reusesWorkers ? this.busy : 0;
    while (!this.closed && this.ready.length + out < this.size) this.ready.push(this.spawn());
  }

  private spawn(): WorkerSlot {
    // The JS heap cap bounds what a guest can pile up in host objects (e.g. millions of /tmp entries).
    const w = new Worker(this.entry, {
      execArgv: [],
      env: {},
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    w.unref();
    if (this.ahead) w.postMessage(this.ahead);
    const slot: WorkerSlot = { worker: w, runs: 0, exited: false };
    this.watch(slot);
    return slot;
  }

  /** Between runs: errors are ignored, and a worker whose thread stops is marked and leaves the ready list. */
  private watch(slot: WorkerSlot): void {
    slot.worker.on('error', () => undefined);
    slot.worker.once('exit', () => {
      slot.exited = true;
      const i = this.ready.indexOf(slot);
      if (i < 0) return;
      this.ready.splice(i, 1);
      this.fill();
    });
  }

  /** Hands out a ready worker, or spawns one when none is ready. */
  take(): WorkerSlot {
    let slot = this.ready.shift();
    // Defensive: the exit handler above already removed stopped workers.
    while (slot?.exited) slot = this.ready.shift();
    slot ??= this.spawn();
    this.busy += 1;
    slot.worker.ref();
    return slot;
  }

  /** Returns a worker after its run: kept when allowed, otherwise terminated; then refills. */
  release(slot: WorkerSlot, reusable: boolean): void {
    slot.runs += 1;
    this.busy -= 1;
    slot.worker.removeAllListeners('message');
    slot.worker.removeAllListeners('exit');
    slot.worker.removeAllListeners('error');
    slot.worker.unref();
    if (!slot.exited) this.watch(slot);
    if (
      reusable &&
      !slot.exited &&
      !this.closed &&
      slot.runs < this.maxRunsPerWorker &&
      this.ready.length < this.size
    ) {
      this.ready.unshift(slot);
      return;
    }
    void slot.worker.terminate().catch(() => undefined);
    // Spawn the replacement after the run, not during it (spawning competes for the CPU).
    setImmediate(() => this.fill());
  }

  /** Number of workers waiting ready (for tests and benchmarks). */
  get readyCount(): number {
    return this.ready.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.ready.splice(0).map((s) => s.worker.terminate()));
  }
}
