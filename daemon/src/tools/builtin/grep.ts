import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import { createSpawner, type Spawner } from '../../spawner/index.js';
import { defineTool } from '../define.js';
import { normalizePath } from '../paths.js';
import { compileGrepPattern } from './grep-pattern.js';
import { runGrep, type GrepRun } from './grep-run.js';
import { firstLines } from './grep-search.js';
import { createGrepWorkers, type GrepWorkers, type GrepWorkersOptions } from './grep-worker.js';

const DEFAULT_MAX = 200;
const DEFAULT_BUDGET_MS = 20_000;
const MAX_LINE_CHARS = 300;
/** Past this many files searched in process, the output says that ripgrep would be faster. */
const SLOW_HINT_FILES = 1000;

/** Options of the grep tool. */
export interface GrepToolOptions {
  /** Wall-clock budget of one call (ms, default 20 s); past it grep stops and says so, with what it found. */
  budgetMs?: number;
  /** The worker pool to match in (default: a pool of the tool's own). */
  workers?: GrepWorkers;
  /** Options for the tool's own pool. */
  workerOptions?: GrepWorkersOptions;
  /**
   * The ripgrep binary (findRipgrep()), or null: the person's unchanged files are searched with rg when
   * the view can tell which files those are (WorkspaceView.isReal); everything else in process.
   */
  rg?: string | null;
  /** What starts rg: the daemon's spawner process (default: direct spawns from this process). */
  spawner?: Spawner;
  /**
   * When an rg run first has its files' sizes looked at (ms; default sizeCheckMs() of its files). Tests that count
   * rg's runs set it far out: on a loaded machine a run given folders outlives the check and goes again by name.
   */
  rgSizeCheckMs?: number;
}

/** Input of grep. */
export const GrepInput = lazySchema(() =>
  z
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
    .strict(),
);

const DESCRIPTION = `Search file contents with a regular expression, line by line. The syntax is RE2's, which is JavaScript's without lookahead/lookbehind and backreferences (matching takes linear time). Returns "path:line: text" for each matching line, files in path order. Skips .git, files that .gitignore excludes, binary files and files over 16 MiB. Narrow with \`path\` (a file or directory) and \`glob\` (e.g. "**/*.py"); \`ignore_case\` for case-insensitive search. Stops after \`max_matches\` lines (default ${DEFAULT_MAX}).`;

type StopReason = 'cancelled' | 'time_budget';

/** `grep`: regex search over the files of the view, .gitignore respected, matched off the event loop. */
export function createGrepTool(options: GrepToolOptions = {}) {
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const workers = options.workers ?? createGrepWorkers({ maxLineChars: MAX_LINE_CHARS, ...options.workerOptions });
  const rg = options.rg ?? null;
  const spawner = options.spawner ?? createSpawner({ mode: 'direct' });

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
      let r: GrepRun;
      try {
        if (ctx.signal.aborted) onCancel();
        r = await runGrep({
          view: ctx.view,
          base,
          type: st.type,
          glob: i.glob,
          pattern,
          max: i.max_matches,
          stop: stop.signal,
          rg,
          spawner,
          workers,
          maxLineChars: MAX_LINE_CHARS,
          ...(options.rgSizeCheckMs !== undefined ? { rgSizeCheckMs: options.rgSizeCheckMs } : {}),
        });
      } finally {
        clearTimeout(budget);
        ctx.signal.removeEventListener('abort', onCancel);
      }
      const { lines, truncated } = firstLines(r.lines, i.max_matches);
      const stopped = stop.signal.aborted ? (stop.signal.reason as StopReason) : undefined;
      const re = `/${i.pattern}/${i.ignore_case ? 'i' : ''}`;
      const data = {
        matches: lines.length,
        files: r.searched,
        truncated,
        inProcess: r.inProcess,
        ...(stopped ? { stopped, of: r.total } : {}),
      };
      const why =
        stopped === 'time_budget'
          ? `[grep stopped after ${budgetMs / 1000} s (its time budget), having searched ${r.searched} of ${r.total} files; narrow the path or glob, or simplify the pattern]`
          : stopped
            ? `[grep was cancelled after ${r.searched} of ${r.total} files]`
            : '';
      const slow =
        !rg && r.inProcess >= SLOW_HINT_FILES
          ? '\n[searched in process: ripgrep (rg) is not installed; with it grep is ~10× faster on big trees]'
          : '';
      if (lines.length === 0) {
        const none = `No matches for ${re} in ${r.searched} files${base ? ` under ${base}` : ''}.`;
        return { content: (why ? `${none}\n${why}` : none) + slow, data };
      }
      const more = truncated ? `\n[stopped at ${i.max_matches} matches; narrow the pattern, path or glob]` : '';
      return { content: lines.join('\n') + more + (why ? `\n${why}` : '') + slow, data };
    },
  });
}
