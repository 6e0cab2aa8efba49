import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WORKER_SOURCE } from './worker-source.js';

const SHIM_URL = pathToFileURL(createRequire(import.meta.url).resolve('@bjorn3/browser_wasi_shim')).href;

/**
 * Pre-spawned single-use workers: spawning costs ~40 ms, so `size` workers wait ready (shim
 * loaded); each run takes one and the worker is terminated afterwards, so no state of a run
 * (instance, file systems, JIT, globals) can reach the next. A replacement is spawned at once.
 */
export class WorkerPool {
  private readonly ready: Worker[] = [];
  private closed = false;

  constructor(private readonly size: number) {}

  /** Spawns workers up to the pool size. */
  fill(): void {
    while (!this.closed && this.ready.length < this.size) this.ready.push(this.spawn());
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { shimUrl: SHIM_URL }, env: {}, stdout: true, stderr: true });
    w.unref();
    w.on('error', () => undefined);
    return w;
  }

  /** Hands out a ready worker (or a new one) and starts spawning its replacement. */
  take(): Worker {
    const w = this.ready.shift() ?? this.spawn();
    setImmediate(() => this.fill());
    return w;
  }

  /** Number of workers waiting ready (for tests and benchmarks). */
  get readyCount(): number {
    return this.ready.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.ready.splice(0).map((w) => w.terminate()));
  }
}
