import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WORKER_SOURCE } from './worker-source.js';

const SHIM_URL = pathToFileURL(createRequire(import.meta.url).resolve('@bjorn3/browser_wasi_shim')).href;

/** A worker handed out for one run, and how many runs it has served. */
export interface WorkerSlot {
  worker: Worker;
  runs: number;
}

/**
 * Pre-spawned workers (spawning costs ~40 ms), `size` of them waiting ready with the shim loaded.
 * Each run is a new wasm instance with new file systems. By default a worker serves one run and
 * is then terminated (nothing of a run, not even JIT or JS heap state, reaches the next);
 * `maxRunsPerWorker` > 1 lets a worker whose run ended normally serve again (faster, weaker).
 * A worker whose run timed out, was cancelled or crashed is always terminated.
 */
export class WorkerPool {
  private readonly ready: WorkerSlot[] = [];
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly maxRunsPerWorker = 1,
  ) {}

  /** Spawns workers up to the pool size. */
  fill(): void {
    while (!this.closed && this.ready.length < this.size) this.ready.push({ worker: this.spawn(), runs: 0 });
  }

  private spawn(): Worker {
    // The JS heap cap bounds what a guest can pile up in shim objects (e.g. millions of /tmp entries).
    const w = new Worker(WORKER_SOURCE, {
      eval: true,
      execArgv: [],
      workerData: { shimUrl: SHIM_URL },
      env: {},
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: 256 },
    });
    w.unref();
    w.on('error', () => undefined);
    return w;
  }

  /** Hands out a ready worker, or spawns one when none is ready. */
  take(): WorkerSlot {
    const slot = this.ready.shift() ?? { worker: this.spawn(), runs: 0 };
    slot.worker.ref();
    return slot;
  }

  /** Returns a worker after its run: kept when allowed, otherwise terminated; then refills. */
  release(slot: WorkerSlot, reusable: boolean): void {
    slot.runs += 1;
    slot.worker.removeAllListeners('message');
    slot.worker.removeAllListeners('exit');
    slot.worker.removeAllListeners('error');
    slot.worker.on('error', () => undefined);
    slot.worker.unref();
    if (reusable && !this.closed && slot.runs < this.maxRunsPerWorker && this.ready.length < this.size) {
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
