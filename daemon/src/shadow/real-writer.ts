import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  createReadStream,
  fchmodSync,
  fstatSync,
  linkSync,
  mkdirSync,
  openSync,
  readlinkSync,
  renameSync,
  rmdirSync,
  symlinkSync,
  unlinkSync,
} from 'node:fs';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { typedFsError, writeAll, writeAllSync } from '../state/index.js';
import { type FaultHook, noSpaceError } from './fault.js';
import { checkProtected } from './paths.js';
import { at, DIR_FLAGS, hasProcFd, lstatQuiet, pathChanged, type RealFs, realPathOf } from './real-fs.js';

/** Where bytes for one real path come from: a stored object file, bytes in memory, or a symlink target. */
export type Source = { object: string } | { bytes: Uint8Array } | { link: string };

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
const baseName = (rel: string) => rel.slice(rel.lastIndexOf('/') + 1);
/** The only names `removeTemp` will unlink: what `tempFor` makes. */
const TEMP_NAME = /^\..+\.sbx-[0-9a-f]+\.tmp$/;
/**
 * Copies the stored object file at `object` into `fd`, which stays open and the caller's. Not
 * stream.pipeline into a write stream: on a failure (ENOSPC) pipeline destroys the write stream, which closes
 * `fd` even with autoClose false — the caller's own close then failed with EBADF, masking the ENOSPC (or
 * would close a descriptor reused in between).
 */
async function copyObject(fd: number, object: string, file: string): Promise<void> {
  for await (const chunk of createReadStream(object)) {
    await writeAll(fd, chunk as Buffer, (chunk as Buffer).length, file);
  }
}

/** The temp path a staged write of `rel` uses: beside its target (same folder, same file system), hidden. */
export function tempFor(rel: string, hex: string): string {
  const dir = parentOf(rel);
  const name = `.${baseName(rel)}.sbx-${hex}.tmp`;
  return dir === '' ? name : `${dir}/${name}`;
}

export interface RealWriterOptions {
  /** Canonical relative prefixes that are shadowbox state (a state dir inside the workspace). */
  protectedPrefixes: string[];
  /** A private folder in the state dir for `keep` (emptied when the session opens); none: `keep` does nothing. */
  keepDir?: string;
  faults?: FaultHook;
}

/**
 * Why: the write side of the person's files, used by accept, undo, roll-back and crash recovery. Every
 * folder is opened without following a symlink (O_DIRECTORY|O_NOFOLLOW) and its descriptor's real path
 * must be exactly root/folder, re-checked before each change; changes go through that descriptor
 * (/proc/self/fd/N/name — openat's emulation), so a symlink anywhere on the way is refused (typed,
 * naming the link), nothing is ever created outside the workspace, and nothing inside `.git` or the
 * state dir. Missing folders are made one level at a time from the nearest existing one (O(depth)),
 * only those the caller journaled. `close()` releases the folder handles.
 *
 * The system calls are synchronous (each a few µs on a local disk): an accept of n files makes
 * ~6n of them, and through libuv's thread pool every one cost a round trip to a worker thread and
 * back (0.1–0.2 ms each on a loaded machine, 80 ms of a 150 ms accept of 50 files, bench/bigrepo.mjs).
 * The one exception is a stored object file (> 64 KiB) that is streamed into its temp. Callers with
 * many paths yield between batches (accept.ts), so the event loop is never held for long.
 */
export class RealWriter {
  /** Open folder descriptors (O_DIRECTORY|O_NOFOLLOW), by workspace-relative path. */
  private readonly dirs = new Map<string, number>();
  private keepDirMade = false;

  constructor(
    private readonly fs: RealFs,
    private readonly opts: RealWriterOptions,
  ) {}

  private guard(rel: string): void {
    checkProtected(this.opts, rel, rel);
  }

  private path(dir: number, dirRel: string, name: string): string {
    return hasProcFd() ? at(dir, name) : this.fs.abs(dirRel === '' ? name : `${dirRel}/${name}`);
  }

  /** The refusal for a write whose folder is not a plain directory: names the symlink (and its target) when there is one. */
  private notPlain(forPath: string, dirRel: string): ShadowboxError {
    return this.linkOnTheWay(forPath, dirRel) ?? pathChanged(forPath);
  }

  /** A symlink (or file) among the folders of `dirRel`, as the refusal naming it; null when every one is a folder or absent. */
  private linkOnTheWay(forPath: string, dirRel: string): ShadowboxError | null {
    const parts = dirRel === '' ? [] : dirRel.split('/');
    for (let i = 1; i <= parts.length; i++) {
      const p = parts.slice(0, i).join('/');
      const st = lstatQuiet(this.fs.abs(p));
      if (st?.isSymbolicLink()) {
        let target = '?';
        try {
          target = readlinkSync(this.fs.abs(p));
        } catch {
          // gone again: named with '?'
        }
        return new ShadowboxError(
          ErrorCodes.PathProtected,
          'symlink_in_path',
          `refused to write ${forPath}: ${p} is a symbolic link (→ ${target}); accept never writes through a symlink — remove it as part of the reviewed change, or yourself`,
          { path: forPath, link: p, target },
        );
      }
      if (st && !st.isDirectory())
        return new ShadowboxError(
          ErrorCodes.NotAFile,
          'parent_not_a_directory',
          `refused to write ${forPath}: ${p} is not a directory`,
          { path: forPath, parent: p },
        );
    }
    return null;
  }

  /**
   * A checked handle on directory `rel` ('' = the root). Missing directories are made (one level at a
   * time, from the nearest existing one) when `create` allows them — the set the caller journaled, or 'any'
   * when restoring folders that existed before.
   */
  async dir(rel: string, forPath: string, create: ReadonlySet<string> | 'any' | null = null): Promise<number> {
    const cached = this.dirs.get(rel);
    if (cached !== undefined) {
      if (realPathOf(cached, this.fs.abs(rel)) === this.fs.abs(rel)) return cached;
      throw pathChanged(forPath);
    }
    let fd: number;
    try {
      fd = openSync(this.fs.abs(rel), DIR_FLAGS);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'ELOOP') throw this.notPlain(forPath, rel);
      const creatable = code === 'ENOENT' && rel !== '' && (create === 'any' || create?.has(rel) === true);
      // Missing — or behind a symlink whose target is missing: the link is what to name. A folder this call
      // may make is not walked here (an lstat per level, for each of an accept's new folders): its parent is
      // opened checked below, and a link in its own place fails the open after the mkdir, which names it.
      if (code === 'ENOENT' && !creatable) {
        const link = this.linkOnTheWay(forPath, rel);
        if (link) throw link;
      }
      if (!creatable) throw e;
      const parent = await this.dir(parentOf(rel), forPath, create);
      this.guard(rel);
      const made = this.path(parent, parentOf(rel), baseName(rel));
      try {
        this.opts.faults?.before('real.mkdir', this.fs.abs(rel));
        mkdirSync(made);
      } catch (m) {
        if ((m as NodeJS.ErrnoException).code !== 'EEXIST') throw await typedFsError(m, this.fs.abs(rel));
      }
      try {
        fd = openSync(made, DIR_FLAGS);
      } catch {
        throw this.notPlain(forPath, rel);
      }
    }
    if (realPathOf(fd, this.fs.abs(rel)) !== this.fs.abs(rel)) {
      closeSync(fd);
      throw this.notPlain(forPath, rel);
    }
    this.dirs.set(rel, fd);
    return fd;
  }

  /**
   * Writes `source` to the temp `tmpRel` for `target` (created exclusively, never through a link), mode set.
   * Returns the temp's own metadata once written (its inode and mtime stay the same through the rename), or
   * null for a link.
   */
  async stage(
    tmpRel: string,
    target: string,
    source: Source,
    mode: number,
    create: ReadonlySet<string> | 'any' | null,
  ): Promise<Stats | null> {
    const dirRel = parentOf(tmpRel);
    const dir = await this.dir(dirRel, target, create);
    this.guard(tmpRel);
    const file = this.path(dir, dirRel, baseName(tmpRel));
    try {
      const bytes = 'bytes' in source ? source.bytes.byteLength : undefined;
      const cut = this.opts.faults?.before('real.stage', this.fs.abs(tmpRel), bytes);
      if ('link' in source) {
        symlinkSync(source.link, file);
        return null;
      }
      const fd = openSync(file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
      let st: Stats;
      try {
        if ('bytes' in source) {
          if (typeof cut === 'number') {
            writeAllSync(fd, source.bytes, cut);
            throw noSpaceError(this.fs.abs(tmpRel));
          }
          writeAllSync(fd, source.bytes, source.bytes.byteLength, this.fs.abs(tmpRel));
        } else await copyObject(fd, source.object, this.fs.abs(tmpRel));
        // After the bytes: a write clears set-user-ID and set-group-ID bits.
        fchmodSync(fd, mode & 0o7777);
        st = fstatSync(fd);
      } catch (e) {
        // Closed exactly once on either way out; the write's own error (ENOSPC) is thrown, never the close's.
        try {
          closeSync(fd);
        } catch {
          // the first error stands
        }
        throw e;
      }
      closeSync(fd);
      return st;
    } catch (e) {
      throw await typedFsError(e, this.fs.abs(tmpRel));
    }
  }

  /** Renames a staged temp over its target in the same folder (the target is old or new, never torn; a link there is replaced, not followed). */
  async commit(tmpRel: string, rel: string): Promise<void> {
    this.guard(rel);
    const dirRel = parentOf(rel);
    const dir = await this.dir(dirRel, rel);
    this.opts.faults?.before('real.rename', this.fs.abs(rel));
    renameSync(this.path(dir, dirRel, baseName(tmpRel)), this.path(dir, dirRel, baseName(rel)));
  }

  /**
   * Gives the file at `rel` a second name in the private `keepDir` (the state dir) before a rename replaces
   * `rel`: the old file then outlives the rename, and freeing its blocks (ext4 does it inside the rename that
   * drops its last name, ~0.1 ms a file here) moves to the removal of that name, after the answer. Nothing
   * new appears in the workspace. Returns the name, or null when no link is made (no keep folder, another
   * file system, no such file, a full disk): the rename then frees the file itself, as before.
   */
  async keep(rel: string): Promise<string | null> {
    const keepDir = this.opts.keepDir;
    if (!keepDir) return null;
    this.guard(rel);
    const dirRel = parentOf(rel);
    const dir = await this.dir(dirRel, rel);
    const name = path.join(keepDir, randomBytes(8).toString('hex'));
    try {
      this.opts.faults?.before('real.link', name);
      if (!this.keepDirMade) mkdirSync(keepDir, { recursive: true, mode: 0o700 });
      this.keepDirMade = true;
      // link(2) never follows `rel` if it became a symlink: the name then holds that link, removed like one.
      linkSync(this.path(dir, dirRel, baseName(rel)), name);
      return name;
    } catch {
      return null;
    }
  }

  /** Removes a file or symlink (the link itself); missing is fine. */
  async unlink(rel: string): Promise<void> {
    this.guard(rel);
    const dirRel = parentOf(rel);
    const dir = await this.dir(dirRel, rel).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    });
    if (dir === null) return;
    this.opts.faults?.before('real.unlink', this.fs.abs(rel));
    try {
      unlinkSync(this.path(dir, dirRel, baseName(rel)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  /** Removes an empty directory; the errno says why not (ENOTEMPTY: the person put something there). */
  async rmdir(rel: string): Promise<void> {
    this.guard(rel);
    const dirRel = parentOf(rel);
    const dir = await this.dir(dirRel, rel);
    this.opts.faults?.before('real.rmdir', this.fs.abs(rel));
    const cached = this.dirs.get(rel);
    this.dirs.delete(rel);
    if (cached !== undefined) closeSync(cached);
    rmdirSync(this.path(dir, dirRel, baseName(rel)));
  }

  /** Makes a directory (and missing parents among `create`). */
  async mkdir(rel: string, create: ReadonlySet<string> | 'any'): Promise<void> {
    this.guard(rel);
    await this.dir(rel, rel, create);
  }

  /** Removes a temp file a staged write left (only a name `tempFor` makes, only a file or link); missing is fine. */
  async removeTemp(tmpRel: string): Promise<void> {
    if (!TEMP_NAME.test(baseName(tmpRel))) return;
    const dirRel = parentOf(tmpRel);
    const dir = await this.dir(dirRel, tmpRel).catch(() => null);
    if (dir === null) return;
    const file = this.path(dir, dirRel, baseName(tmpRel));
    const st = lstatQuiet(file);
    if (st && (st.isFile() || st.isSymbolicLink())) {
      try {
        unlinkSync(file);
      } catch {
        // gone already
      }
    }
  }

  /** Releases the folder handles. */
  async close(): Promise<void> {
    const all = [...this.dirs.values()];
    this.dirs.clear();
    for (const fd of all) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
    return Promise.resolve();
  }
}
