import picomatch from 'picomatch';
import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import { pathGlobOptions } from '../../glob-base.js';
import { defineTool } from '../define.js';
import { normalizePath } from '../paths.js';
import { printablePath } from './text.js';
import { walk } from './walk.js';

const MAX_RESULTS = 1000;

/** Input of glob. */
export const GlobInput = lazySchema(() =>
  z
    .object({
      pattern: z.string().min(1).max(1000).describe('glob relative to `path`, e.g. "**/*.ts" or "src/*.{js,json}"'),
      path: z.string().default('').describe('directory to search from (default: the workspace root)'),
    })
    .strict(),
);

const DESCRIPTION = `Find files by name with a glob pattern (picomatch syntax: *, **, ?, [abc], {a,b}). The pattern is matched against paths relative to \`path\`; "*.ts" matches only that directory, "**/*.ts" matches at any depth. Skips .git and files that .gitignore excludes. Returns workspace-relative paths of files, sorted, at most ${MAX_RESULTS}.`;

/** `glob`: files whose path matches a pattern, walked through the view. */
export function createGlobTool() {
  return defineTool({
    name: 'glob',
    kind: 'search',
    description: DESCRIPTION,
    input: GlobInput,
    concurrent: true,
    targets: (i) => ({ paths: [startDir(i.path, i.pattern)] }),
    summarize: (i) => `${i.pattern}${i.path ? ` in ${i.path}` : ''}`,
    handler: async (i, ctx) => {
      const base = normalizePath(i.path);
      const st = await ctx.view.stat(base);
      if (!st)
        throw new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', `${base || '.'} does not exist.`, {
          path: base,
        });
      if (st.type !== 'dir')
        throw new ShadowboxError(ErrorCodes.NotAFile, 'not_directory', `${base} is not a directory.`, { path: base });
      const scan = picomatch.scan(i.pattern);
      const start = startDir(i.path, i.pattern);
      const isMatch = picomatch(i.pattern, pathGlobOptions(false));
      const maxDepth = scan.glob.includes('**') || !scan.isGlob ? undefined : scan.glob.split('/').length;
      const found: string[] = [];
      let truncated = false;
      const startSt = start === base ? st : await ctx.view.stat(start);
      if (startSt?.type === 'dir') {
        for await (const e of walk(ctx.view, start, { ...(maxDepth ? { maxDepth } : {}), signal: ctx.signal })) {
          if (e.ignored || e.type === 'dir') continue;
          const rel = base ? e.path.slice(base.length + 1) : e.path;
          if (!isMatch(rel)) continue;
          if (found.length >= MAX_RESULTS) {
            truncated = true;
            break;
          }
          found.push(e.path);
        }
      } else if (startSt && isMatch(base ? start.slice(base.length + 1) : start)) {
        found.push(start);
      }
      if (found.length === 0) {
        const hint =
          !i.pattern.includes('/') && !i.pattern.startsWith('**')
            ? ` (to match at any depth, use "**/${i.pattern}")`
            : '';
        return { content: `No files match ${i.pattern}${base ? ` in ${base}` : ''}${hint}.`, data: { count: 0 } };
      }
      const more = truncated ? `\n[stopped at ${MAX_RESULTS} files; use a narrower pattern or path]` : '';
      return { content: found.map(printablePath).join('\n') + more, data: { count: found.length, truncated } };
    },
  });
}

/** The directory the walk starts from: `path` joined with the pattern's literal prefix. */
function startDir(path: string, pattern: string): string {
  const scan = picomatch.scan(pattern);
  const prefix = scan.isGlob ? scan.base : pattern;
  return normalizePath([path, prefix].filter(Boolean).join('/'));
}
