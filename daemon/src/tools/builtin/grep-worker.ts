// grep matches in a worker thread, never on the daemon's event loop: even a linear-time pattern can
// cost seconds on a 16 MiB file, and a worker is the one thing that can be stopped mid-match
// (terminate) when a call is cancelled or runs out of time.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { GrepPattern } from './grep-pattern.js';
import type { GrepThreadData, GrepWorkerMessage, GrepWorkerReply } from './grep-worker-thread.js';

/** Options of the grep worker pool. */
export interface GrepWorkersOptions {
  /** How long an idle worker is kept for the next call (ms, default 30 s). */
  idleMs?: number;
  /** Cut matched lines to this many characters (default 300). */
  maxLineChars?: number;
  /** Heap cap of a worker (MiB, default 512): a worker that runs out dies alone. */
  maxHeapMb?: number;
}

/** One worker, owned by one grep call from `acquire` to `release` or `kill`. */
export interface GrepWorker {
  /** The matching lines of one file as "path:line: text", at most `limit` of them. */
  match(path: string, bytes: Uint8Array, limit: number): Promise<string[]>;
  /** Hands the worker back for reuse (only when no match is pending). */
  release(): void;
  /** Terminates the worker at once, even mid-match; pending matches reject with `reason`. */
  kill(reason: Error): void;
}

/** A small pool: one worker per running grep call, one kept warm between calls. */
export interface GrepWorkers {
  acquire(pattern: GrepPattern): GrepWorker;
  /** Number of live worker threads (busy + idle), for tests. */
  live(): number;
}

/**
 * The compiled thread module: beside this file in dist/ (and in the bundle's dist/ tree); when this
 * file runs from src/ (vitest), the copy in dist/ that vitest's globalSetup compiles.
 */
export function grepThreadEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 'grep-worker-thread.js');
  if (existsSync(beside)) return beside;
  const built = join(here.replace(/([\\/])src([\\/]tools[\\/]builtin)$/, '$1dist$2'), 'grep-worker-thread.js');
  if (!existsSync(built)) throw new Error(`the grep worker is not built (${built}): run npx tsc -b daemon`);
  return built;
}

/** Creates the pool; its threads are unref'd, so they never keep the daemon alive. */
export function createGrepWorkers(options: GrepWorkersOptions = {}): GrepWorkers {
  const idleMs = options.idleMs ?? 30_000;
  const workerData: GrepThreadData = { maxLineChars: options.maxLineChars ?? 300 };
  let entry: string | undefined;
  const resourceLimits = { maxOldGenerationSizeMb: options.maxHeapMb ?? 512 };
  let idle: { worker: Worker; timer: NodeJS.Timeout } | undefined;
  let live = 0;

  const spawn = (): Worker => {
    const w = new Worker((entry ??= grepThreadEntry()), { workerData, resourceLimits });
    live++;
    w.on('error', () => undefined); // the call that owns the worker hears it too; an idle worker's error is dropped
    w.once('exit', () => {
      live--;
      if (idle?.worker === w) {
        clearTimeout(idle.timer);
        idle = undefined;
      }
    });
    w.unref();
    return w;
  };

  return {
    live: () => live,
    acquire(pattern) {
      let w: Worker;
      if (idle) {
        clearTimeout(idle.timer);
        w = idle.worker;
        idle = undefined;
      } else w = spawn();
      const pending = new Map<number, { resolve: (l: string[]) => void; reject: (e: Error) => void }>();
      let nextId = 0;
      let dead: Error | undefined;
      const failAll = (e: Error) => {
        dead ??= e;
        for (const p of pending.values()) p.reject(dead);
        pending.clear();
      };
      const onMessage = (results: GrepWorkerReply) => {
        for (const r of results) {
          const p = pending.get(r.id);
          pending.delete(r.id);
          p?.resolve(r.lines);
        }
      };
      // Files queued in one turn of the event loop go over in one message (fewer, larger messages).
      let batch: { id: number; path: string; bytes: Uint8Array; limit: number }[] = [];
      const flush = () => {
        // structured clone: the view's buffers stay intact
        if (!dead && batch.length > 0) w.postMessage({ jobs: batch } satisfies GrepWorkerMessage);
        batch = [];
      };
      const onError = (e: Error) => failAll(new Error(`grep worker failed: ${e.message}`, { cause: e }));
      const onExit = (code: number) => failAll(new Error(`grep worker exited (code ${code})`));
      w.on('message', onMessage);
      w.on('error', onError);
      w.on('exit', onExit);
      const detach = () => {
        w.off('message', onMessage);
        w.off('error', onError);
        w.off('exit', onExit);
      };
      w.postMessage({ type: 'pattern', source: pattern.source, flags: pattern.flags } satisfies GrepWorkerMessage);
      return {
        match(path, bytes, limit) {
          if (dead) return Promise.reject(dead);
          const id = nextId++;
          return new Promise<string[]>((resolve, reject) => {
            pending.set(id, { resolve, reject });
            if (batch.push({ id, path, bytes, limit }) === 1) setImmediate(flush);
          });
        },
        release() {
          detach();
          if (dead || pending.size > 0 || idle) {
            void w.terminate();
            return;
          }
          const timer = setTimeout(() => {
            if (idle?.worker === w) idle = undefined;
            void w.terminate();
          }, idleMs);
          timer.unref();
          idle = { worker: w, timer };
        },
        kill(reason) {
          failAll(reason);
          detach();
          void w.terminate();
        },
      };
    },
  };
}
