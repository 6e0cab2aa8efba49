import {
  closeSync,
  constants,
  type Dirent,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
  type Stats,
} from 'node:fs';
import { type FileHandle, lstat, open, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;
/** A directory opened without following a symlink in its last component. */
export const DIR_FLAGS = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
/**
 * A folder this large or smaller (st_size: ~37 bytes a name on ext4, ~20 on tmpfs, so ~1,800 names or more) is
 * listed synchronously, ~1–2 ms at most; a larger one on the thread pool.
 */
export const SYNC_LIST_BYTES = 64 * 1024;
/** A file opened for reading without following a symlink in its last component (a FIFO does not block the open). */
const FILE_FLAGS = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;

const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
const baseName = (rel: string) => rel.slice(rel.lastIndexOf('/') + 1);
const lstatSyncOrNull = (abs: string) => {
  try {
    return lstatSync(abs);
  } catch {
    return null;
  }
};
const gone = (e: unknown) => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP';
};

/** lstat of an absolute path; null when it is absent or cannot be looked at. */
export function lstatQuiet(abs: string): Stats | null {
  try {
    return lstatSync(abs, { throwIfNoEntry: false }) ?? null;
  } catch {
    return null;
  }
}

/**
 * Node has no openat(); Linux's /proc/self/fd/N is the next best thing: a path below it resolves from
 * the directory descriptor N itself (like openat(N, …)), and readlink on it names the real path of
 * what the descriptor has open. Without /proc (not Linux) the real path is checked with realpath after
 * the open instead — the same answer, but a swap in between is not caught (docs/shadow-workspace.md).
 */
let procFd: boolean | undefined;
export function hasProcFd(): boolean {
  procFd ??= existsSync('/proc/self/fd');
  return procFd;
}

/** The path through which the kernel resolves `name` inside the directory open as `fd` (openat's emulation). */
export function at(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

/** The real path of what `fd` has open (the file or folder `expected` names, when nothing was swapped). */
export function realPathOf(fd: number, expected: string): string {
  if (hasProcFd()) return readlinkSync(`/proc/self/fd/${fd}`);
  try {
    return realpathSync(expected);
  } catch {
    return '';
  }
}

/** The refusal when the opened file or folder is not at the path that was checked (a component was swapped for a symlink). */
export function pathChanged(rel: string): ShadowboxError {
  return new ShadowboxError(
    ErrorCodes.PathOutsideWorkspace,
    'path_changed',
    `refused: ${rel} is not where it was checked a moment ago (a folder on the way was replaced by a symbolic link)`,
    { path: rel },
  );
}

/**
 * Why: the read side of the person's files — every open happens without following a symlink in the
 * last component (O_NOFOLLOW), and the opened descriptor's real path must be exactly the workspace
 * path asked for, so a folder swapped for a symlink between the check and the open (by any process)
 * is caught: nothing outside the workspace is read. Paths are canonical workspace-relative forms.
 */
export class RealFs {
  constructor(readonly root: string) {}

  abs(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, rel);
  }

  private verified(fd: number, rel: string): boolean {
    return realPathOf(fd, this.abs(rel)) === this.abs(rel);
  }

  /**
   * A directory opened and checked (its real path is exactly root/rel). Not strict: null when there is
   * no plain directory there. Strict: the errno of a missing or non-directory path is thrown as it is,
   * and a symlink met on the way is PathOutsideWorkspace path_changed.
   */
  async openDir(rel: string, strict = false): Promise<FileHandle | null> {
    let fh: FileHandle;
    try {
      fh = await open(this.abs(rel), DIR_FLAGS);
    } catch (e) {
      if (!strict) {
        if (gone(e)) return null;
        throw e;
      }
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || (code === 'ENOTDIR' && (await lstat(this.abs(rel)).catch(() => null))?.isSymbolicLink()))
        throw pathChanged(rel);
      throw e;
    }
    if (this.verified(fh.fd, rel)) return fh;
    await fh.close();
    if (strict) throw pathChanged(rel);
    return null;
  }

  /**
   * lstat of the last component, with every folder above it a real directory inside the workspace
   * (checked on an open descriptor); null when absent or when a folder on the way is a symlink or a file.
   */
  async lstat(rel: string): Promise<Stats | null> {
    const parent = parentOf(rel);
    if (parent === '') return lstat(this.abs(rel)).catch(() => null);
    const dir = await this.openDir(parent);
    if (!dir) return null;
    try {
      return hasProcFd() ? await lstat(at(dir.fd, baseName(rel))).catch(() => null) : await lstat(this.abs(rel));
    } catch {
      return null;
    } finally {
      await dir.close();
    }
  }

  /**
   * `lstat` done synchronously (a few µs, no thread-pool round trip): the same checks and answers, for
   * callers that go through a bounded list of paths (accept, undo, review); walks of the tree use `lstat`.
   */
  lstatSync(rel: string): Stats | null {
    const parent = parentOf(rel);
    if (parent === '') return lstatQuiet(this.abs(rel));
    let fd: number;
    try {
      fd = openSync(this.abs(parent), DIR_FLAGS);
    } catch (e) {
      if (gone(e)) return null;
      throw e;
    }
    try {
      if (!this.verified(fd, parent)) return null;
      return lstatQuiet(hasProcFd() ? at(fd, baseName(rel)) : this.abs(rel));
    } finally {
      closeSync(fd);
    }
  }

  /** A symlink's target (null when rel is not a symlink below real directories). */
  async readlink(rel: string): Promise<string | null> {
    const parent = parentOf(rel);
    const dir = parent === '' ? null : await this.openDir(parent);
    if (parent !== '' && !dir) return null;
    try {
      return await readlink(dir && hasProcFd() ? at(dir.fd, baseName(rel)) : this.abs(rel));
    } catch {
      return null;
    } finally {
      await dir?.close();
    }
  }

  /**
   * Opens a file for reading: O_NOFOLLOW, then its real path must be root/rel (else PathOutsideWorkspace
   * path_changed). null when absent; `st` is the opened file's own stat.
   */
  async openFile(rel: string): Promise<{ fh: FileHandle; st: Stats } | null> {
    let fh: FileHandle;
    try {
      fh = await open(this.abs(rel), FILE_FLAGS);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw pathChanged(rel);
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw e;
    }
    try {
      if (!this.verified(fh.fd, rel)) throw pathChanged(rel);
      return { fh, st: await fh.stat() };
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** A whole file's bytes through `openFile`; null when absent or not a regular file. */
  async readFile(rel: string): Promise<Buffer | null> {
    const f = await this.openFile(rel);
    if (!f) return null;
    try {
      return f.st.isFile() ? await f.fh.readFile() : null;
    } finally {
      await f.fh.close();
    }
  }

  /**
   * `readFile` for small files, synchronously (a few µs, no threadpool round trip); null when absent or not a
   * regular file, or larger than `maxBytes` (when given).
   */
  readSmallSync(rel: string, maxBytes = Infinity): { data: Buffer; st: Stats } | null {
    let fd: number;
    try {
      fd = openSync(this.abs(rel), FILE_FLAGS);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ELOOP') throw pathChanged(rel);
      if (gone(e)) return null;
      throw e;
    }
    try {
      if (!this.verified(fd, rel)) throw pathChanged(rel);
      const st = fstatSync(fd);
      if (!st.isFile() || st.size > maxBytes) return null;
      const data = Buffer.allocUnsafe(st.size);
      let got = 0;
      while (got < st.size) {
        const n = readSync(fd, data, got, st.size - got, got);
        if (n === 0) break;
        got += n;
      }
      return { data: data.subarray(0, got), st };
    } finally {
      closeSync(fd);
    }
  }

  /**
   * A directory's entries (types as lstat sees them); errors as `openDir` strict (ENOENT, ENOTDIR, path_changed).
   * The open, its check and the close are synchronous (a few µs each): a grep walk lists hundreds of
   * folders, and a FileHandle's two threadpool round trips per folder cost more than the listing itself.
   * So is the listing of a folder whose size says it holds at most a few thousand names (SYNC_LIST_BYTES): a
   * 2,000-file grep's walk took ~27 ms with a thread-pool listing per folder and ~16 ms without. A larger folder
   * is listed on the thread pool, so one listing never holds the event loop for long.
   */
  async readdir(rel: string): Promise<Dirent[]> {
    const fd = this.openDirSync(rel);
    try {
      const at = hasProcFd() ? `/proc/self/fd/${fd}` : this.abs(rel);
      return fstatSync(fd).size <= SYNC_LIST_BYTES
        ? readdirSync(at, { withFileTypes: true })
        : await readdir(at, { withFileTypes: true });
    } finally {
      closeSync(fd);
    }
  }

  /**
   * The entries of the real folder at exactly root/rel, read now and synchronously (types as lstat sees
   * them), or null when it is absent, not a folder, or not at that path (a link on the way). For small
   * re-checks; a walk uses `readdir`.
   */
  listSync(rel: string): Dirent[] | null {
    let fd: number;
    try {
      fd = this.openDirSync(rel);
    } catch {
      return null;
    }
    try {
      return readdirSync(hasProcFd() ? `/proc/self/fd/${fd}` : this.abs(rel), { withFileTypes: true });
    } catch {
      return null;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * The size of the regular file at root/rel as lstat sees it now (a link, a folder, nothing: null). By
   * path: only the last component is not followed, so this is no check of where the file is (listSync is).
   */
  fileSizeSync(rel: string): number | null {
    const st = lstatQuiet(this.abs(rel));
    return st?.isFile() ? st.size : null;
  }

  /** `openDir(rel, true)` as a bare descriptor, synchronously. */
  private openDirSync(rel: string): number {
    let fd: number;
    try {
      fd = openSync(this.abs(rel), DIR_FLAGS);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ELOOP' || (code === 'ENOTDIR' && lstatSyncOrNull(this.abs(rel))?.isSymbolicLink()))
        throw pathChanged(rel);
      throw e;
    }
    if (this.verified(fd, rel)) return fd;
    closeSync(fd);
    throw pathChanged(rel);
  }
}
