import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import type { WorkspaceView } from '../../shadow/index.js';
import { defineTool } from '../define.js';
import { normalizePath } from '../paths.js';
import { printablePath } from './text.js';
import { walk } from './walk.js';

const MAX_ENTRIES = 1000;

/** Input of list_dir. */
export const ListDirInput = lazySchema(() =>
  z
    .object({
      path: z.string().default('').describe('workspace-relative directory (default: the workspace root)'),
      depth: z
        .number()
        .int()
        .min(1)
        .max(10)
        .default(1)
        .describe('how many levels to show (default 1: the directory itself)'),
    })
    .strict(),
);

const DESCRIPTION = `List a directory of the workspace as an indented tree: directories end with "/", files show their size. \`depth\` > 1 descends into subdirectories, but not into .git or directories that .gitignore excludes (those are marked "(ignored)"). At most ${MAX_ENTRIES} entries.`;

/** `list_dir`: the entries of a directory, optionally a few levels deep. */
export function createListDirTool() {
  return defineTool({
    name: 'list_dir',
    kind: 'read',
    description: DESCRIPTION,
    input: ListDirInput,
    concurrent: true,
    targets: (i) => ({ paths: [i.path] }),
    summarize: (i) => `${i.path || '.'}${i.depth > 1 ? ` (depth ${i.depth})` : ''}`,
    handler: async (i, ctx) => {
      const dir = normalizePath(i.path);
      const st = await ctx.view.stat(dir);
      if (!st)
        throw new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', `${dir || '.'} does not exist.`, { path: dir });
      if (st.type !== 'dir')
        throw new ShadowboxError(
          ErrorCodes.NotAFile,
          'not_directory',
          `${dir} is a file, not a directory; use read_file to read it.`,
          { path: dir },
        );
      const lines: string[] = [];
      let count = 0;
      let truncated = false;
      for await (const e of walk(ctx.view, dir, { maxDepth: i.depth, signal: ctx.signal })) {
        if (count >= MAX_ENTRIES) {
          truncated = true;
          break;
        }
        count++;
        const name = e.path.slice(e.path.lastIndexOf('/') + 1);
        const indent = '  '.repeat(e.depth - 1);
        let suffix = '';
        if (e.type === 'dir') suffix = '/';
        else if (e.type === 'symlink') suffix = ' -> (symlink)';
        else if (e.type === 'file') suffix = await sizeOf(ctx.view, e.path);
        lines.push(`${indent}${printablePath(name)}${suffix}${e.ignored && e.type === 'dir' ? ' (ignored)' : ''}`);
      }
      const header = `${dir || '.'}/`;
      if (lines.length === 0) return { content: `${header} is empty.`, data: { entries: 0 } };
      return {
        content: [
          header,
          ...lines.map((l) => `  ${l}`),
          ...(truncated ? [`[stopped at ${MAX_ENTRIES} entries; list a subdirectory or use a smaller depth]`] : []),
        ].join('\n'),
        data: { entries: count, truncated },
      };
    },
  });
}

async function sizeOf(view: WorkspaceView, path: string): Promise<string> {
  const st = await view.stat(path).catch(() => null);
  return st ? ` (${st.size} bytes)` : '';
}
