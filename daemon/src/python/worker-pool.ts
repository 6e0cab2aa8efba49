import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { WORKER_SOURCE } from './worker-source.js';

/** One file handed to the worker: workspace-relative or stdlib-relative path and its bytes. */
export interface JobFile {
  path: string;
  data: Uint8Array | SharedArrayBuffer;
}

/** Everything one run needs; the module is compiled once and posted (cheap). */
export interface WorkerJob {
  /** A compiled WebAssembly.Module (opaque: posted to the worker as is). */
  module: object;
  argv: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  stdlib: JobFile[];
  workspace: JobFile[];
  workspaceDirs: string[];
  maxOutputBytes: number;
  maxFetchBytes: number;
}

/** A netFetch round trip: the guest's request bytes in, the reply bytes (head line + body) out. */
export type FetchBridge = (request: Uint8Array) => Promise<Uint8Array>;

/** What came back from a worker (or from its termination). */
export interface WorkerOutcome {
  exitCode: number | null;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
  cancelled: boolean;
  error: { reason: string; message: string } | null;
  changes: { path: string; data: Uint8Array | null }[];
  timings?: WorkerTimings;
}

const SHIM_URL = pathToFileURL(createRequire(import.meta.url).resolve('@bjorn3/browser_wasi_shim')).href;

/** Where the time of one run went inside the worker (for benchmarks and docs). */
export interface WorkerTimings {
  setupMs: number;
  instantiateMs: number;
  runMs: number;
}

/** Runs per worker before it is replaced (bounds whatever a worker accumulates, e.g. JIT code). */
const MAX_RUNS_PER_WORKER = 100;

/**
 * Pre-spawned workers (spawning costs ~40 ms). A run takes an idle worker; each run is a new wasm
 * instance with new in-memory file systems, so a worker whose run ended normally goes back to the
 * pool. A worker whose run timed out, was cancelled, trapped or overflowed its output is
 * terminated (that is also how a spinning guest is stopped) and replaced in the background.
 */
export class WorkerPool {
  private idle: { worker: Worker; runs: number }[] = [];
  private closed = false;

  constructor(private readonly size = 1) {}

  /** Spawns workers up to the pool size (call at start-up to hide the spawn cost). */
  fill(): void {
    while (!this.closed && this.idle.length < this.size) this.idle.push({ worker: this.spawn(), runs: 0 });
  }

  private spawn(): Worker {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { shimUrl: SHIM_URL } });
    w.unref();
    w.on('error', () => undefined);
    return w;
  }

  /** Runs one job; resolves when the guest exits, traps, times out or is cancelled. */
  run(job: WorkerJob, opts: { timeoutMs: number; signal?: AbortSignal; fetch: FetchBridge }): Promise<WorkerOutcome> {
    const slot = this.idle.shift() ?? { worker: this.spawn(), runs: 0 };
    const { worker } = slot;
    worker.ref();
    const out: Record<1 | 2, Buffer[]> = { 1: [], 2: [] };
    return new Promise<WorkerOutcome>((resolve) => {
      let settled = false;
      const finish = (o: Omit<WorkerOutcome, 'stdout' | 'stderr'>, reusable: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
        slot.runs += 1;
        if (reusable && !this.closed && slot.runs < MAX_RUNS_PER_WORKER && this.idle.length < this.size) {
          worker.unref();
          this.idle.push(slot);
        } else {
          void worker.terminate();
          setImmediate(() => this.fill());
        }
        resolve({ ...o, stdout: Buffer.concat(out[1]), stderr: Buffer.concat(out[2]) });
      };
      const stop = (timedOut: boolean, cancelled: boolean): void =>
        finish({ exitCode: null, timedOut, cancelled, error: null, changes: [] }, false);
      const timer = setTimeout(() => stop(true, false), opts.timeoutMs);
      const onAbort = (): void => stop(false, true);
      const onMessage = (m: WorkerMessage): void => {
        if (m.type === 'output') out[m.fd].push(...m.chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
        else if (m.type === 'fetch') void answerFetch(m, opts.fetch);
        else if (m.type === 'done') finish({ exitCode: m.exitCode, timedOut: false, cancelled: false, error: m.error, changes: m.changes, timings: m.timings }, m.error === null);
      };
      const onExit = (): void => finish({ exitCode: null, timedOut: false, cancelled: false, error: { reason: 'worker_exit', message: 'the sandbox worker stopped' }, changes: [] }, false);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.signal?.aborted) return stop(false, true);
      worker.on('message', onMessage);
      worker.on('exit', onExit);
      worker.postMessage(job);
    });
  }

  /** Terminates idle workers; later runs spawn on demand. */
  async close(): Promise<void> {
    this.closed = true;
    const ws = this.idle.splice(0);
    await Promise.all(ws.map((w) => w.worker.terminate()));
  }
}

type WorkerMessage =
  | { type: 'output'; fd: 1 | 2; chunks: Uint8Array[] }
  | { type: 'fetch'; sab: SharedArrayBuffer; request: Uint8Array }
  | { type: 'done'; exitCode: number | null; error: { reason: string; message: string } | null; changes: { path: string; data: Uint8Array | null }[]; timings: WorkerTimings };

async function answerFetch(m: { sab: SharedArrayBuffer; request: Uint8Array }, fetch: FetchBridge): Promise<void> {
  const ctl = new Int32Array(m.sab, 0, 2);
  const room = m.sab.byteLength - 8;
  let reply: Uint8Array;
  try {
    reply = await fetch(m.request);
  } catch (e) {
    reply = Buffer.from(`${JSON.stringify({ error: 'net_fetch_failed', message: e instanceof Error ? e.message : String(e) })}\n`);
  }
  const n = Math.min(reply.byteLength, room);
  new Uint8Array(m.sab, 8, n).set(reply.subarray(0, n));
  Atomics.store(ctl, 1, n);
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
}
