import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import { defineTool } from '../define.js';
import { canonicalPath } from '../paths.js';
import { ensureParentDirs } from './text.js';

/** Input of move_file. */
export const MoveFileInput = lazySchema(() =>
  z
    .object({
      from: z.string().min(1).describe('workspace-relative path to move (file or directory)'),
      to: z.string().min(1).describe('new workspace-relative path'),
      overwrite: z.boolean().default(false).describe('replace an existing file at `to`'),
    })
    .strict(),
);

const DESCRIPTION =
  'Move or rename a file or directory; missing parent directories of the destination are created. Refuses to replace an existing destination unless `overwrite` is true. The move lands in the shadow workspace for review.';

/** `move_file`: rename through the view. */
export function createMoveFileTool() {
  return defineTool({
    name: 'move_file',
    kind: 'move',
    description: DESCRIPTION,
    input: MoveFileInput,
    targets: (i) => ({ paths: [i.from, i.to] }),
    summarize: (i) => `${i.from} → ${i.to}`,
    handler: async (i, ctx) => {
      const from = await canonicalPath(ctx.view, i.from, 'write');
      const to = await canonicalPath(ctx.view, i.to, 'write');
      if (from === '' || to === '')
        throw new ShadowboxError(
          ErrorCodes.PathProtected,
          'workspace_root',
          'the workspace root cannot be moved or replaced.',
        );
      if (from === to)
        throw new ShadowboxError(ErrorCodes.ToolInputInvalid, 'no_change', `from and to are the same path (${from}).`);
      if (to.startsWith(`${from}/`))
        throw new ShadowboxError(
          ErrorCodes.ToolInputInvalid,
          'into_itself',
          `cannot move ${from} into itself (${to}).`,
        );
      const src = await ctx.view.stat(from);
      if (!src)
        throw new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', `${from} does not exist.`, { path: from });
      const dst = await ctx.view.stat(to);
      if (dst && (!i.overwrite || dst.type === 'dir')) {
        throw new ShadowboxError(
          ErrorCodes.ToolFailed,
          'destination_exists',
          `${to} already exists${dst.type === 'dir' ? ' and is a directory' : '; set overwrite: true to replace it'}.`,
          { path: to },
        );
      }
      await ensureParentDirs(ctx.view, to);
      await ctx.view.rename(from, to);
      return { content: `Moved ${from} to ${to}.`, changed: [from, to], data: { type: src.type, overwrote: !!dst } };
    },
  });
}
