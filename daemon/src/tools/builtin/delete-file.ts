import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import { defineTool } from '../define.js';
import { canonicalPath } from '../paths.js';

/** Input of delete_file. */
export const DeleteFileInput = lazySchema(() =>
  z
    .object({
      path: z.string().min(1).describe('workspace-relative path of the file (or directory) to delete'),
      recursive: z.boolean().default(false).describe('required to delete a directory and everything in it'),
    })
    .strict(),
);

const DESCRIPTION =
  "Delete a file, or a directory with `recursive: true`. The deletion lands in the shadow workspace for the person to review; their real files are untouched until they accept it. Cannot delete the workspace root, .git/ or shadowbox's own files.";

/** `delete_file`: removes a file (or, explicitly, a directory) through the view. */
export function createDeleteFileTool() {
  return defineTool({
    name: 'delete_file',
    kind: 'delete',
    description: DESCRIPTION,
    input: DeleteFileInput,
    targets: (i) => ({ paths: [i.path] }),
    summarize: (i) => `${i.path}${i.recursive ? ' (recursive)' : ''}`,
    handler: async (i, ctx) => {
      const path = await canonicalPath(ctx.view, i.path, 'write');
      if (path === '')
        throw new ShadowboxError(ErrorCodes.PathProtected, 'workspace_root', 'the workspace root cannot be deleted.');
      const st = await ctx.view.stat(path);
      if (!st) throw new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', `${path} does not exist.`, { path });
      if (st.type === 'dir' && !i.recursive)
        throw new ShadowboxError(
          ErrorCodes.NotAFile,
          'is_directory',
          `${path} is a directory; set recursive: true to delete it and everything in it.`,
          { path },
        );
      await ctx.view.remove(path);
      return {
        content: `Deleted ${path}${st.type === 'dir' ? ' (directory)' : ''}.`,
        changed: [path],
        data: { type: st.type },
      };
    },
  });
}
