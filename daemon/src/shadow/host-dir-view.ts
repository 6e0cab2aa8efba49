import { constants } from 'node:fs';
import { lstat, open, readdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { resolvePath, type PathRules } from './paths.js';
import type { DirEntry, EntryStat, EntryType, WorkspaceView } from './view.js';

const notFound = (p: string) =>
  new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', `no such file or directory: ${p}`, { path: p });
const readOnly = (p: string) =>
  new ShadowboxError(ErrorCodes.PathProtected, 'read_only_mount', `a read-only folder cannot be written: ${p}`, {
    path: p,
  });

function typeOf(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryType {
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
}

/**
 * Why: a folder outside the workspace mounted into a sandbox (`shadowbox wasi run --dir`) must be
 * readable with the same path rules as the workspace (symlinks resolved and refused when they leave
 * it, `..` and absolute paths refused) and must never be written: every write throws
 * `read_only_mount`, so nothing outside the workspace changes behind the person's back.
 */
export async function createReadOnlyDirView(dir: string): Promise<WorkspaceView> {
  const root = await realpath(dir);
  const rules: PathRules = { root, protectedPrefixes: [], owns: () => null };
  const resolve = (p: string): Promise<string> => resolvePath(rules, p, { intent: 'read', followLast: true });
  const refuse = (p: string): Promise<never> => Promise.reject(readOnly(p));
  return {
    root,
    resolve: (p) => resolve(p),
    async stat(p): Promise<EntryStat | null> {
      const rel = await resolve(p);
      const st = await lstat(path.join(root, rel)).catch(() => null);
      return st ? { type: typeOf(st), size: st.size, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs } : null;
    },
    async readFile(p): Promise<Uint8Array> {
      const rel = await resolve(p);
      // O_NOFOLLOW: a symlink swapped in after the check is refused, not followed.
      const h = await open(path.join(root, rel), constants.O_RDONLY | constants.O_NOFOLLOW).catch((e: unknown) => {
        const code = (e as NodeJS.ErrnoException).code;
        throw code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' ? notFound(p) : e;
      });
      try {
        const st = await h.stat();
        if (!st.isFile())
          throw new ShadowboxError(ErrorCodes.NotAFile, 'is_directory', `not a file: ${p}`, { path: p });
        return new Uint8Array(await h.readFile());
      } finally {
        await h.close();
      }
    },
    async readdir(p): Promise<DirEntry[]> {
      const rel = await resolve(p);
      const list = await readdir(path.join(root, rel), { withFileTypes: true }).catch((e: unknown) => {
        const code = (e as NodeJS.ErrnoException).code;
        throw code === 'ENOENT' || code === 'ENOTDIR' ? notFound(p) : e;
      });
      return list.map((e) => ({ name: e.name, type: typeOf(e) }));
    },
    writeFile: (p) => refuse(p),
    mkdir: (p) => refuse(p),
    remove: (p) => refuse(p),
    rename: (p) => refuse(p),
    symlink: (p) => refuse(p),
  };
}
