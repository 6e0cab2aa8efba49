import picomatch from 'picomatch';
import { z } from 'zod';
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import type { WorkspaceView } from '../../shadow/view.js';
import { defineTool } from '../define.js';
import { normalizePath } from '../paths.js';
import { looksBinary, MAX_TEXT_FILE_BYTES } from './text.js';
import { walk } from './walk.js';

const DEFAULT_MAX = 200;
const MAX_LINE_CHARS = 300;
const PARALLEL_READS = 16;

/** Input of grep. */
export const GrepInput = z
  .object({
    pattern: z.string().min(1).max(1000).describe('JavaScript regular expression, e.g. "function\\\\s+main" or "TODO|FIXME"'),
    path: z.string().default('').describe('file or directory to search (default: the workspace root)'),
    glob: z.string().max(1000).optional().describe('only files whose path (relative to `path`) matches this glob, e.g. "**/*.ts"'),
    ignore_case: z.boolean().default(false).describe('match case-insensitively'),
    max_matches: z.number().int().min(1).max(5000).default(DEFAULT_MAX).describe(`stop after this many matching lines (default ${DEFAULT_MAX})`),
  })
  .strict();

const DESCRIPTION = `Search file contents with a regular expression (JavaScript syntax), line by line. Returns "path:line: text" for each matching line, files in path order. Skips .git, files that .gitignore excludes, binary files and files over 16 MiB. Narrow with \`path\` (a file or directory) and \`glob\` (e.g. "**/*.py"); \`ignore_case\` for case-insensitive search. Stops after \`max_matches\` lines (default ${DEFAULT_MAX}).`;

/** `grep`: regex search over the files of the view, .gitignore respected. */
export function createGrepTool() {
  return defineTool({
    name: 'grep',
    kind: 'search',
    description: DESCRIPTION,
    input: GrepInput,
    concurrent: true,
    targets: (i) => ({ paths: [i.path] }),
    summarize: (i) => `/${i.pattern}/${i.ignore_case ? 'i' : ''}${i.path ? ` in ${i.path}` : ''}${i.glob ? ` (${i.glob})` : ''}`,
    handler: async (i, ctx) => {
      let re: RegExp;
      try {
        re = new RegExp(i.pattern, i.ignore_case ? 'i' : '');
      } catch (e) {
        throw new ShadowboxError(ErrorCodes.ToolInputInvalid, 'invalid_regex', `pattern is not a valid JavaScript regular expression: ${(e as Error).message}. Escape special characters such as ( [ { . * + ? with a backslash.`);
      }
      const base = normalizePath(i.path);
      const st = await ctx.view.stat(base);
      if (!st) throw new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', `${base || '.'} does not exist.`, { path: base });
      const isMatch = i.glob ? picomatch(i.glob, { dot: true }) : () => true;
      const files: string[] = [];
      if (st.type === 'dir') {
        for await (const e of walk(ctx.view, base, { signal: ctx.signal })) {
          if (e.ignored || e.type === 'dir' || e.type === 'other') continue;
          if (isMatch(base ? e.path.slice(base.length + 1) : e.path)) files.push(e.path);
        }
      } else files.push(base);
      const r = await searchFiles(ctx.view, files, re, i.max_matches, ctx.signal);
      if (r.lines.length === 0) return { content: `No matches for /${i.pattern}/${i.ignore_case ? 'i' : ''} in ${r.searched} files${base ? ` under ${base}` : ''}.`, data: { matches: 0, files: r.searched } };
      const more = r.truncated ? `\n[stopped at ${i.max_matches} matches; narrow the pattern, path or glob]` : '';
      return { content: r.lines.join('\n') + more, data: { matches: r.lines.length, files: r.searched, truncated: r.truncated } };
    },
  });
}

/** Reads files a few at a time and collects matching lines in path order, stopping at `max`. */
async function searchFiles(view: WorkspaceView, files: string[], re: RegExp, max: number, signal: AbortSignal): Promise<{ lines: string[]; searched: number; truncated: boolean }> {
  const perFile: (string[] | undefined)[] = new Array(files.length);
  const whole = new RegExp(re.source, `${re.flags}gm`);
  let next = 0;
  let found = 0;
  let searched = 0;
  const worker = async () => {
    while (next < files.length && found < max && !signal.aborted) {
      const k = next++;
      perFile[k] = await searchOne(view, files[k], re, whole);
      searched++;
      found += perFile[k].length;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_READS, files.length) }, worker));
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
  return { lines, searched, truncated };
}

async function searchOne(view: WorkspaceView, path: string, re: RegExp, whole: RegExp): Promise<string[]> {
  let bytes: Uint8Array;
  try {
    const st = await view.stat(path);
    if (!st || st.size > MAX_TEXT_FILE_BYTES) return [];
    bytes = await view.readFile(path);
  } catch {
    return []; // vanished, unreadable, or a symlink that leaves the workspace
  }
  if (looksBinary(bytes)) return [];
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (text === '') return [];
  // Scan the whole text for candidate matches (cost follows matches, not lines), then confirm each
  // candidate's line with the per-line regex, so a match that spans lines never counts.
  const out: string[] = [];
  const scan = new RegExp(whole.source, whole.flags);
  let lineNo = 1;
  let counted = 0;
  for (let m = scan.exec(text); m; m = scan.exec(text)) {
    const lineStart = text.lastIndexOf('\n', m.index - 1) + 1;
    if (lineStart === text.length) break; // the empty "line" after a final newline
    let lineEnd = text.indexOf('\n', m.index);
    if (lineEnd < 0) lineEnd = text.length;
    for (let k = text.indexOf('\n', counted); k >= 0 && k < lineStart; k = text.indexOf('\n', k + 1)) lineNo++;
    counted = lineStart;
    const line = text.slice(lineStart, lineEnd > lineStart && text.charCodeAt(lineEnd - 1) === 13 ? lineEnd - 1 : lineEnd);
    if (re.test(line)) out.push(`${path}:${lineNo}: ${line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)}...` : line}`);
    if (lineEnd >= text.length) break;
    scan.lastIndex = lineEnd + 1;
  }
  return out;
}
