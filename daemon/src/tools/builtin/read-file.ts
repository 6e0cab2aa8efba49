import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { defineTool } from '../define.js';
import { readTextFile } from './text.js';

const MAX_LINE_CHARS = 2000;
const DEFAULT_LIMIT = 2000;

/** Input of read_file. */
export const ReadFileInput = lazySchema(() =>
  z
    .object({
      path: z.string().min(1).describe('workspace-relative path of the file, e.g. src/index.ts'),
      offset: z.number().int().min(1).optional().describe('first line to show, 1-based (default 1)'),
      limit: z
        .number()
        .int()
        .min(1)
        .max(10_000)
        .optional()
        .describe(`how many lines to show (default ${DEFAULT_LIMIT})`),
    })
    .strict(),
);

const DESCRIPTION = `Read a text file of the workspace. Output is line-numbered like \`cat -n\` (number, tab, line). By default shows the first ${DEFAULT_LIMIT} lines; use \`offset\` (1-based) and \`limit\` to read a range of a long file. Lines longer than ${MAX_LINE_CHARS} characters are cut. Binary files are refused. Sees the session's pending (shadow) edits, and the person's unsaved editor buffer of a file the session has not changed.`;

/** `read_file`: line-numbered text of one file, optionally a line range. */
export function createReadFileTool() {
  return defineTool({
    name: 'read_file',
    kind: 'read',
    description: DESCRIPTION,
    input: ReadFileInput,
    concurrent: true,
    targets: (i) => ({ paths: [i.path] }),
    summarize: (i) =>
      `${i.path}${i.offset || i.limit ? `:${i.offset ?? 1}-${(i.offset ?? 1) + (i.limit ?? DEFAULT_LIMIT) - 1}` : ''}`,
    handler: async (i, ctx) => {
      const saved = (await readTextFile(ctx.view, i.path, 'read_file')).text;
      // The person's unsaved editor buffer, when their editor offers it and the shadow has not changed the file.
      const buffer = ctx.readBuffer ? await ctx.readBuffer(await ctx.view.resolve(i.path)) : null;
      const fromBuffer = buffer !== null && buffer !== saved;
      const text = fromBuffer ? buffer : saved;
      const source = fromBuffer ? { source: 'editor_buffer' } : {};
      const note = fromBuffer
        ? '\n[shown from the unsaved editor buffer; the saved file differs, and edits apply to the saved file]'
        : '';
      const lines = text.split('\n');
      if (text.endsWith('\n')) lines.pop();
      const total = lines.length;
      const first = i.offset ?? 1;
      const limit = i.limit ?? DEFAULT_LIMIT;
      if (total === 0) return { content: `${i.path} is empty.${note}`, data: { totalLines: 0, ...source } };
      if (first > total)
        return {
          content: `${i.path} has ${total} lines; offset ${first} is past the end.${note}`,
          isError: true,
          data: { totalLines: total, ...source },
        };
      const shown = lines.slice(first - 1, first - 1 + limit);
      const last = first + shown.length - 1;
      const width = String(last).length;
      const body = shown
        .map(
          (l, k) =>
            `${String(first + k).padStart(Math.max(width, 6))}\t${l.length > MAX_LINE_CHARS ? `${l.slice(0, MAX_LINE_CHARS)}... [line cut at ${MAX_LINE_CHARS} chars]` : l}`,
        )
        .join('\n');
      const more =
        last < total ? `\n[lines ${first}-${last} of ${total}; call read_file with offset ${last + 1} to read on]` : '';
      return { content: body + more + note, data: { totalLines: total, firstLine: first, lastLine: last, ...source } };
    },
  });
}
