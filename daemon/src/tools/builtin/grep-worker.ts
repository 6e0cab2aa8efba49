// grep matches in a worker thread, never on the daemon's event loop: even a linear-time pattern can
// cost seconds on a 16 MiB file, and a worker is the one thing that can be stopped mid-match
// (terminate) when a call is cancelled or runs out of time.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { GrepPattern } from './grep-pattern.js';

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

// Plain CommonJS run with `eval: true`, so the same code works from dist/ and from vitest's sources.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { RE2JS } = require(workerData.re2js);
const MAX = workerData.maxLineChars;
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
let perLine = null;
let whole = null;
parentPort.on('message', (m) => {
  if (m.type === 'pattern') {
    perLine = RE2JS.compile(m.source, m.flags);
    whole = RE2JS.compile(m.source, m.flags | RE2JS.MULTILINE);
    return;
  }
  parentPort.postMessage(m.jobs.map((j) => ({ id: j.id, lines: search(j.path, j.bytes, j.limit) })));
});
function search(path, bytes, limit) {
  let s = decoder.decode(bytes);
  if (s.includes('\\r')) {
    s = s.replaceAll('\\r\\n', '\\n');
    if (s.endsWith('\\r')) s = s.slice(0, -1);
  }
  // One DFA pass over the whole file (multi-line mode) rules out most files; a line can only
  // match where the whole text does, so this never drops a match.
  if (s === '' || !whole.test(s)) return [];
  const out = [];
  for (let start = 0, no = 1; start < s.length && out.length < limit; no++) {
    let end = s.indexOf('\\n', start);
    if (end < 0) end = s.length;
    const line = s.slice(start, end);
    if (perLine.test(line)) out.push(path + ':' + no + ': ' + (line.length > MAX ? line.slice(0, MAX) + '...' : line));
    start = end + 1;
  }
  return out;
}
`;

/** Creates the pool; its threads are unref'd, so they never keep the daemon alive. */
export function createGrepWorkers(options: GrepWorkersOptions = {}): GrepWorkers {
  const idleMs = options.idleMs ?? 30_000;
  const workerData = {
    re2js: createRequire(import.meta.url).resolve('re2js'),
    maxLineChars: options.maxLineChars ?? 300,
  };
  const resourceLimits = { maxOldGenerationSizeMb: options.maxHeapMb ?? 512 };
  let idle: { worker: Worker; timer: NodeJS.Timeout } | undefined;
  let live = 0;

  const spawn = (): Worker => {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData, resourceLimits });
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
      const onMessage = (results: { id: number; lines: string[] }[]) => {
        for (const r of results) {
          const p = pending.get(r.id);
          pending.delete(r.id);
          p?.resolve(r.lines);
        }
      };
      // Files queued in one turn of the event loop go over in one message (fewer, larger messages).
      let batch: { id: number; path: string; bytes: Uint8Array; limit: number }[] = [];
      const flush = () => {
        if (!dead && batch.length > 0) w.postMessage({ jobs: batch }); // structured clone: the view's buffers stay intact
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
      w.postMessage({ type: 'pattern', source: pattern.source, flags: pattern.flags });
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
