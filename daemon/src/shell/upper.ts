import { execFile } from 'node:child_process';
import type { Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { BUILD_DIRS } from './ignored.js';

const run = promisify(execFile);
const BUILD = new Set<string>(BUILD_DIRS);

/** One entry of an overlay's upper folder, as a command left it. */
export type UpperEntry =
  | { name: string; type: 'file'; size: number; mode: number }
  | { name: string; type: 'dir'; mode: number }
  | { name: string; type: 'symlink'; target: string }
  /** A 0/0 character device: the command removed what the lower layers have here. */
  | { name: string; type: 'whiteout' }
  /** A fifo, socket or device: never a change. */
  | { name: string; type: 'other' };

/** Classifies what `lstat` says of anything but a link (never followed: the upper folder is the command's, so hostile). */
function entryOf(name: string, st: Stats): UpperEntry {
  if (st.isFile()) return { name, type: 'file', size: st.size, mode: st.mode & 0o7777 };
  if (st.isDirectory()) return { name, type: 'dir', mode: st.mode & 0o7777 };
  if (st.isCharacterDevice() && st.rdev === 0) return { name, type: 'whiteout' };
  return { name, type: 'other' };
}

/** The entries of one upper folder (`rel` below `root`), sorted by name. */
export async function listUpper(root: string, rel: string): Promise<UpperEntry[]> {
  const dir = rel === '' ? root : path.join(root, rel);
  const names = (await readdir(dir)).sort();
  return Promise.all(
    names.map(async (name): Promise<UpperEntry> => {
      const abs = path.join(dir, name);
      const st = await lstat(abs);
      if (st.isSymbolicLink()) return { name, type: 'symlink', target: await readlink(abs) };
      return entryOf(name, st);
    }),
  );
}

/**
 * Every folder of the upper tree (workspace-relative), not looking inside build folders (node_modules,
 * target, …: their own opacity is all that matters, they move to the cache whole). One readdir per folder.
 */
export async function upperDirs(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await listUpper(root, rel)) {
      if (e.type !== 'dir') continue;
      const c = rel === '' ? e.name : `${rel}/${e.name}`;
      out.push(c);
      if (!BUILD.has(e.name)) await walk(c);
    }
  };
  await walk('');
  return out;
}

/** Decodes getfattr's escaped file names (`\\` and `\ooo` octal). */
function unescapeName(s: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && s[i + 1] === '\\') {
      bytes.push(0x5c);
      i++;
    } else if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) {
      bytes.push(parseInt(s.slice(i + 1, i + 4), 8));
      i += 3;
    } else bytes.push(...Buffer.from(s[i]));
  }
  return Buffer.from(bytes).toString('utf8');
}

/**
 * The folders overlayfs marked opaque (`user.overlay.opaque`: the command removed a folder and made one
 * of the same name, so nothing of the lower layers shows below it). Node cannot read xattrs, so getfattr
 * (attr) answers for the batch: one process per 1,000 folders.
 */
export async function opaqueDirs(getfattr: string, root: string, dirs: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < dirs.length; i += 1000) {
    const chunk = dirs.slice(i, i + 1000);
    let stdout: string;
    try {
      stdout = (
        await run(getfattr, ['-n', 'user.overlay.opaque', '-e', 'text', '--', ...chunk], {
          cwd: root,
          maxBuffer: 16 << 20,
        })
      ).stdout;
    } catch (e) {
      // Exit 1 when some folder has no such attribute; the ones that have it are still printed.
      stdout = String((e as { stdout?: string }).stdout ?? '');
    }
    let current: string | null = null;
    for (const line of stdout.split('\n')) {
      if (line.startsWith('# file: ')) current = unescapeName(line.slice(8));
      else if (current !== null && /^user\.overlay\.opaque="y"$/.test(line)) out.add(current.replace(/^\.\//, ''));
    }
  }
  return out;
}
