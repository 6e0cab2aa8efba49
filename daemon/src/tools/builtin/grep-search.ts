// grep's in-process search: files read through the view (the shadow's changed files, links, and every
// file when ripgrep is absent) and matched in a worker thread (grep-worker.ts).
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import type { WorkspaceView } from '../../shadow/index.js';
import type { FileQueue } from './file-queue.js';
import type { GrepWorker } from './grep-worker.js';
import { looksBinary, MAX_TEXT_FILE_BYTES, printablePath } from './text.js';

const PARALLEL_READS = 16;
const MAX_QUEUED = 64;
const MAX_QUEUED_BYTES = 64 << 20;

/** Matching lines by file index (files with none are absent), files searched, lines found. */
export interface Searched {
  lines: Map<number, string[]>;
  searched: number;
  found: number;
}

/** A running search: `found` grows as files are answered; `done` settles when the queue is drained or it stopped. */
export interface RunningSearch {
  readonly found: number;
  readonly done: Promise<Searched>;
}

/**
 * Takes files from the queue in order, reads them a few at a time and queues each one on the worker
 * without waiting for its answer (the reads and the matching overlap), at most MAX_QUEUED files /
 * MAX_QUEUED_BYTES at once, stopping once more than `max` lines are found (each file gives at most max + 1).
 * The worker is acquired at the first file that needs matching.
 */
export function searchInProcess(
  view: WorkspaceView,
  queue: FileQueue,
  worker: () => GrepWorker,
  literal: Buffer | undefined,
  max: number,
  stop: AbortSignal,
): RunningSearch {
  const lines = new Map<number, string[]>();
  let found = 0;
  let searched = 0;
  let queuedBytes = 0;
  let failure: { path: string; error: unknown } | undefined;
  const queued = new Set<Promise<void>>();
  const enqueue = ({ k, path }: { k: number; path: string }, bytes: Uint8Array) => {
    queuedBytes += bytes.byteLength;
    const job: Promise<void> = worker()
      .match(printablePath(path), bytes, max + 1)
      .then(
        (matched) => {
          if (matched.length > 0) lines.set(k, matched);
          searched++;
          found += matched.length;
        },
        (error: unknown) => {
          if (!stop.aborted) failure ??= { path, error }; // else: terminated on purpose
        },
      )
      .finally(() => {
        queuedBytes -= bytes.byteLength;
        queued.delete(job);
      });
    queued.add(job);
  };
  const reader = async () => {
    // Until more than `max` lines are found: with exactly `max`, a later file may hold more, and the output must
    // say so. A file taken is searched whatever was found meanwhile, so what was searched is always a prefix of
    // the queue (a later file's lines never stand in for an earlier one's).
    while (found <= max && !stop.aborted && !failure) {
      const [file] = await queue.take(1);
      if (!file || stop.aborted) break;
      const bytes = await readText(view, file.path);
      if (stop.aborted) break;
      // A plain-string pattern: a file without the string cannot match (native byte search, linear).
      if (!bytes || (literal && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(literal) < 0)) {
        searched++;
        continue;
      }
      enqueue(file, bytes);
      while (queued.size > 0 && (queued.size >= MAX_QUEUED || queuedBytes >= MAX_QUEUED_BYTES) && !stop.aborted)
        await Promise.race(queued);
    }
  };
  const done = (async (): Promise<Searched> => {
    await Promise.all(Array.from({ length: PARALLEL_READS }, reader));
    await Promise.all(queued);
    return settle();
  })();
  return {
    get found() {
      return found;
    },
    done,
  };

  function settle(): Searched {
    if (failure) {
      const { path, error } = failure;
      throw new ShadowboxError(
        ErrorCodes.ToolFailed,
        'grep_worker_failed',
        `grep could not search ${printablePath(path)}: ${(error as Error).message}. Try a narrower path or glob.`,
        { path },
        { cause: error },
      );
    }
    return { lines, searched, found };
  }
}

/** The bytes of a text file worth searching, or undefined (vanished, unreadable, escaping symlink, too big, binary). */
async function readText(view: WorkspaceView, path: string): Promise<Uint8Array | undefined> {
  try {
    const st = await view.stat(path);
    if (!st || st.size > MAX_TEXT_FILE_BYTES) return undefined;
    const bytes = await view.readFile(path);
    return bytes.byteLength === 0 || looksBinary(bytes) ? undefined : bytes;
  } catch {
    return undefined;
  }
}

/** The first `max` lines in file order (by index), and whether there were more. */
export function firstLines(
  byFile: ReadonlyMap<number, string[]>,
  max: number,
): { lines: string[]; truncated: boolean } {
  const lines: string[] = [];
  for (const k of [...byFile.keys()].sort((a, b) => a - b)) {
    for (const l of byFile.get(k) ?? []) {
      if (lines.length >= max) return { lines, truncated: true };
      lines.push(l);
    }
  }
  return { lines, truncated: false };
}
