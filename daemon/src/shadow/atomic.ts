import { randomBytes } from 'node:crypto';
import { chmod, copyFile, mkdir, rename, rm, rmdir, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** Where bytes for one real path come from: a stored blob, bytes in memory, or a symlink target. */
export type Source = { object: string } | { bytes: Uint8Array } | { link: string };

/** Writes the new content next to the target (same directory, same file system) and returns the temp path. */
export async function stageFile(abs: string, source: Source, mode: number): Promise<string> {
  await mkdir(path.dirname(abs), { recursive: true });
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.sbx-${randomBytes(4).toString('hex')}.tmp`);
  try {
    if ('object' in source) await copyFile(source.object, tmp);
    else if ('bytes' in source) await writeFile(tmp, source.bytes, { flag: 'wx' });
    else {
      await symlink(source.link, tmp);
      return tmp;
    }
    await chmod(tmp, mode & 0o7777);
    return tmp;
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Moves a staged temp file over the target: the target is either the old file or the new one, never torn. */
export async function commitStaged(tmp: string, abs: string): Promise<void> {
  await rename(tmp, abs);
}

/** Removes a real file or empty directory; missing is fine. */
export async function removeReal(abs: string, dir: boolean): Promise<void> {
  try {
    if (dir) await rmdir(abs);
    else await unlink(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

export async function removeQuietly(paths: string[]): Promise<void> {
  await Promise.all(paths.map((p) => rm(p, { force: true }).catch(() => undefined)));
}
