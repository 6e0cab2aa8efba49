import picomatch from 'picomatch';
import { z } from 'zod';
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import type { WorkspaceView } from '../../shadow/index.js';
import { defineTool } from '../define.js';
import { normalizePath } from '../paths.js';
import { compileGrepPattern } from './grep-pattern.js';
import { createGrepWorkers, type GrepWorker, type GrepWorkers, type GrepWorkersOptions } from './grep-worker.js';
import { looksBinary, MAX_TEXT_FILE_BYTES } from './text.js';
import { walk } from './walk.js';

const DEFAULT_MAX = 200;
const PARALLEL_READS = 16;
const MAX_QUEUED = 64;
const MAX_QUEUED_BYTES = 64 << 20;
const DEFAULT_BUDGET_MS = 20_000;

/** Options of the grep tool. */
export interface GrepToolOptions {
  /** Wall-clock budget of one call (ms, default 20 s); past it grep stops and says so, with what it found. */
  budgetMs?: number;
  /** The worker pool to match in (default: a pool of the tool's own). */
  workers?: GrepWorkers;
  /** Options for the tool's own pool. */
  workerOptions?: GrepWorkersOptions;
}

/** Input of grep. */
export const GrepInput = z
  .object({
    pattern: z
      .string()
      .min(1)
      .max(1000)
      .describe(
        'regular expression, RE2 syntax (JavaScript-like, no lookaround or backreferences), e.g. "function\\\\s+main" or "TODO|FIXME"',
      ),
    path: z.string().default('').describe('file or directory to search (default: the workspace root)'),
    glob: z
      .string()
      .max(1000)
      .optional()
      .describe('only files whose path (relative to `path`) matches this glob, e.g. "**/*.ts"'),
    ignore_case: z.boolean().default(false).describe('match case-insensitively'),
    max_matches: z
      .number()
      .int()
      .min(1)
      .max(5000)
      .default(DEFAULT_MAX)
      .describe(`stop after this many matching lines (default ${DEFAULT_MAX})`),
  })
  .strict();

const DESCRIPTION = `Search file contents with a regular expression, line by line. The syntax is RE2's, which is JavaScript's without lookahead/lookbehind and backreferences (matching takes linear time). Returns "path:line: text" for each matching line, files in path order. Skips .git, files that .gitignore excludes, binary files and files over 16 MiB. Narrow with \`path\` (a file or directory) and \`glob\` (e.g. "**/*.py"); \`ignore_case\` for case-insensitive search. Stops after \`max_matches\` lines (default ${DEFAULT_MAX}).`;

type StopReason = 'cancelled' | 'time_budget';

/** `grep`: regex search over the files of the view, .gitignore respected, matched off the event loop. */
export function createGrepTool(options: GrepToolOptions = {}) {
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const workers = options.workers ?? createGrepWorkers(options.workerOptions);
  return defineTool({
    name: 'grep',
    kind: 'search',
    description: DESCRIPTION,
    input: GrepInput,
    concurrent: true,
    targets: (i) => ({ paths: [i.path] }),
    summarize: (i) =>
      `/${i.pattern}/${i.ignore_case ? 'i' : ''}${i.path ? ` in ${i.path}` : ''}${i.glob ? ` (${i.glob})` : ''}`,
    handler: async (i, ctx) => {
      const pattern = compileGrepPattern(i.pattern, i.ignore_case);
      const base = normalizePath(i.path);
      const st = await ctx.view.stat(base);
      if (!st)
        throw new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', `${base || '.'} does not exist.`, {
          path: base,
        });
      // One signal for both ways a call ends early: the caller cancels, or the budget runs out.
      const stop = new AbortController();
      const onCancel = () => stop.abort('cancelled' satisfies StopReason);
      ctx.signal.addEventListener('abort', onCancel, { once: true });
      const budget = setTimeout(() => stop.abort('time_budget' satisfies StopReason), budgetMs);
      const worker = workers.acquire(pattern);
      // Terminating the thread is what stops a match that is already running.
      stop.signal.addEventListener(
        'abort',
        () => worker.kill(new Error(`grep stopped: ${String(stop.signal.reason)}`)),
        { once: true },
      );
      let r: Searched;
      try {
        if (ctx.signal.aborted) onCancel();
        const isMatch = i.glob ? picomatch(i.glob, { dot: true }) : () => true;
        const files: string[] = [];
        if (st.type === 'dir') {
          for await (const e of walk(ctx.view, base, { signal: stop.signal })) {
            if (e.ignored || e.type === 'dir' || e.type === 'other') continue;
            if (isMatch(base ? e.path.slice(base.length + 1) : e.path)) files.push(e.path);
          }
        } else files.push(base);
        r = await searchFiles(ctx.view, files, worker, pattern.literal, i.max_matches, stop.signal);
      } finally {
        clearTimeout(budget);
        ctx.signal.removeEventListener('abort', onCancel);
        if (!stop.signal.aborted) worker.release();
      }
      const stopped = stop.signal.aborted ? (stop.signal.reason as StopReason) : undefined;
      const re = `/${i.pattern}/${i.ignore_case ? 'i' : ''}`;
      const data = {
        matches: r.lines.length,
        files: r.searched,
        truncated: r.truncated,
        ...(stopped ? { stopped, of: r.total } : {}),
      };
      const why =
        stopped === 'time_budget'
          ? `[grep stopped after ${budgetMs / 1000} s (its time budget), having searched ${r.searched} of ${r.total} files; narrow the path or glob, or simplify the pattern]`
          : stopped
            ? `[grep was cancelled after ${r.searched} of ${r.total} files]`
            : '';
      if (r.lines.length === 0) {
        const none = `No matches for ${re} in ${r.searched} files${base ? ` under ${base}` : ''}.`;
        return { content: why ? `${none}\n${why}` : none, data };
      }
      const more = r.truncated ? `\n[stopped at ${i.max_matches} matches; narrow the pattern, path or glob]` : '';
      return { content: r.lines.join('\n') + more + (why ? `\n${why}` : ''), data };
    },
  });
}

interface Searched {
  lines: string[];
  searched: number;
  total: number;
  truncated: boolean;
}

/**
 * Reads files a few at a time and queues each one on the worker without waiting for its answer (the
 * reads and the matching overlap), at most MAX_QUEUED files / MAX_QUEUED_BYTES at once; collects the
 * lines in path order, stopping at `max`.
 */
async function searchFiles(
  view: WorkspaceView,
  files: string[],
  worker: GrepWorker,
  literal: Buffer | undefined,
  max: number,
  stop: AbortSignal,
): Promise<Searched> {
  const perFile = new Array<string[] | undefined>(files.length);
  let next = 0;
  let found = 0;
  let searched = 0;
  let queuedBytes = 0;
  let failure: { path: string; error: unknown } | undefined;
  const queued = new Set<Promise<void>>();
  const enqueue = (k: number, bytes: Uint8Array) => {
    queuedBytes += bytes.byteLength;
    const job: Promise<void> = worker
      .match(files[k], bytes, max + 1)
      .then(
        (lines) => {
          perFile[k] = lines;
          searched++;
          found += lines.length;
        },
        (error: unknown) => {
          if (!stop.aborted) failure ??= { path: files[k], error }; // else: terminated on purpose
        },
      )
      .finally(() => {
        queuedBytes -= bytes.byteLength;
        queued.delete(job);
      });
    queued.add(job);
  };
  const reader = async () => {
    while (next < files.length && found < max && !stop.aborted && !failure) {
      const k = next++;
      const bytes = await readText(view, files[k]);
      if (stop.aborted) break;
      // A plain-string pattern: a file without the string cannot match (native byte search, linear).
      if (!bytes || (literal && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf(literal) < 0)) {
        perFile[k] = [];
        searched++;
        continue;
      }
      enqueue(k, bytes);
      while (queued.size > 0 && (queued.size >= MAX_QUEUED || queuedBytes >= MAX_QUEUED_BYTES) && !stop.aborted)
        await Promise.race(queued);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, files.length) }, reader));
  await Promise.all(queued);
  if (failure) {
    const { path, error } = failure;
    throw new ShadowboxError(
      ErrorCodes.ToolFailed,
      'grep_worker_failed',
      `grep could not search ${path}: ${(error as Error).message}. Try a narrower path or glob.`,
      { path },
      { cause: error },
    );
  }
  const lines: string[] = [];
  let truncated = false;
  for (const m of perFile) {
    if (!m) continue;
    for (const l of m) {
      if (lines.length >= max) {
        truncated = true;
        break;
      }
      lines.push(l);
    }
    if (truncated) break;
  }
  if (found > max) truncated = true;
  return { lines, searched, total: files.length, truncated };
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
