import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import { defineTool } from '../define.js';
import { canonicalPath } from '../paths.js';
import { ensureParentDirs, lineCount } from './text.js';

/** Input of write_file. */
export const WriteFileInput = lazySchema(() =>
  z
    .object({
      path: z.string().min(1).describe('workspace-relative path of the file to create or overwrite'),
      content: z
        .string()
        .max(16 * 1024 * 1024)
        .describe('the complete new content of the file'),
    })
    .strict(),
);

const DESCRIPTION =
  "Create a file, or overwrite it completely, with the given content; missing parent directories are created. The write lands in the shadow workspace for the person to review. To change part of an existing file, prefer edit_file. Cannot write .git/ or shadowbox's own files.";

/** `write_file`: whole-file create or overwrite through the view. */
export function createWriteFileTool() {
  return defineTool({
    name: 'write_file',
    kind: 'edit',
    description: DESCRIPTION,
    input: WriteFileInput,
    targets: (i) => ({ paths: [i.path] }),
    summarize: (i) => `${i.path} (${Buffer.byteLength(i.content)} bytes)`,
    handler: async (i, ctx) => {
      const path = await canonicalPath(ctx.view, i.path, 'write');
      if (path === '')
        throw new ShadowboxError(
          ErrorCodes.NotAFile,
          'is_directory',
          'the workspace root is a directory; give a file path.',
        );
      const st = await ctx.view.stat(path);
      if (st?.type === 'dir')
        throw new ShadowboxError(ErrorCodes.NotAFile, 'is_directory', `${path} is a directory; give a file path.`, {
          path,
        });
      await ensureParentDirs(ctx.view, path);
      await ctx.view.writeFile(path, i.content, st ? { mode: st.mode } : undefined);
      const bytes = Buffer.byteLength(i.content);
      return {
        content: `${st ? 'Overwrote' : 'Created'} ${path} (${bytes} byte${bytes === 1 ? '' : 's'}, ${lineCount(i.content)} line${lineCount(i.content) === 1 ? '' : 's'}).`,
        changed: [path],
        data: { created: !st, bytes },
      };
    },
  });
}
