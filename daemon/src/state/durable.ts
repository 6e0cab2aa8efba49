import { closeSync, fsync, openSync, renameSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { diskFullError, isDiskFull, mapDiskFull } from './disk-full.js';
import { writeAllSync } from './file-io.js';
// node:crypto is loaded on first use, not with this module: a CLI command that never needs it (status, stop) saves
// ~5 ms of loading it.
const crypto = () => process.getBuiltinModule('node:crypto');

/**
 * How a state file reaches the disk: `sync` survives power loss (file and folder fsynced); `contents`
 * fsyncs the file before the rename but not the folder, so after a power loss the file holds the old bytes
 * or the new, never an empty or torn file (a lost rename only); `none` survives only a crash of the daemon.
 */
export type Durability = 'sync' | 'contents' | 'none';

export interface WriteFileAtomicOptions {
  /** File mode of the new file (default 0600: state files are private). */
  mode?: number;
  /** Create the parent folder (0700) when missing. */
  mkdirMode?: number;
  /** Default `sync`: the one durability policy of the daemon's state files (docs/reliability.md). */
  durability?: Durability;
}

/**
 * The daemon's one "write temp then rename": the new content goes to a fresh temp file in the same
 * folder (created exclusively, private), is fsynced, renamed over the target, and the folder is fsynced,
 * so after a crash or power loss the file holds either the old or the new bytes, never a torn mix. A
 * failed write removes its temp file and leaves the target as it was; a full disk (ENOSPC, EDQUOT)
 * is thrown as the typed DiskFull error (-33900, `data.path`, `data.freeBytes`, `data.freeFiles`).
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const dir = path.dirname(file);
  if (options.mkdirMode !== undefined) await mapDiskFull(dir, () => mkdirAll(dir, options.mkdirMode));
  const tmp = path.join(dir, `.${path.basename(file)}.${crypto().randomBytes(6).toString('hex')}.tmp`);
  const durability = options.durability ?? 'sync';
  const sync = durability === 'sync';
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  if (bytes.byteLength <= SMALL_BYTES) return writeSmall(file, dir, tmp, bytes, options.mode ?? 0o600, durability);
  try {
    const fh = await open(tmp, 'wx', options.mode ?? 0o600);
    try {
      await fh.writeFile(data);
      if (durability !== 'none') await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    if (isDiskFull(e)) throw await diskFullError(file, e);
    throw e;
  }
  if (sync) await fsyncDir(dir);
}

/**
 * Up to this size a state file is written with synchronous system calls, all but the fsyncs: open, write,
 * close, rename and the folder's open and close are a few µs each on the event loop, where each was a
 * thread-pool round trip (~0.1 ms on a busy machine; 8 of them per file). The fsyncs stay off the loop.
 */
const SMALL_BYTES = 1 << 20;
const fsyncFd = (fd: number) => new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));

/** writeFileAtomic's small-file path: the same steps and guarantees. */
async function writeSmall(
  file: string,
  dir: string,
  tmp: string,
  bytes: Uint8Array,
  mode: number,
  durability: Durability,
): Promise<void> {
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeAllSync(fd, bytes, bytes.byteLength, tmp);
      if (durability !== 'none') await fsyncFd(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    if (isDiskFull(e)) throw await diskFullError(file, e);
    throw e;
  }
  if (durability !== 'sync') return;
  const fd = openSync(dir, 'r');
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * `mkdir -p` that says why it failed: Node 20's async recursive mkdir reports a level it could not make for lack of
 * inodes (ENOSPC) as ENOENT (its `mkdirSync` says ENOSPC). Then the first missing level is made alone, which throws the
 * real error (DiskFull once mapped); if that works (a folder removed meanwhile, not a full disk), the whole is tried
 * again, at most once per level. Every recursive async mkdir of the daemon goes through it (eslint.config.mjs refuses
 * a bare one).
 */
export async function mkdirAll(dir: string, mode?: number): Promise<void> {
  const opts = { recursive: true as const, ...(mode === undefined ? {} : { mode }) };
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(dir, opts);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= path.resolve(dir).split(path.sep).length)
        throw e;
    }
    let missing = path.resolve(dir);
    for (let up = path.dirname(missing); up !== missing; up = path.dirname(up)) {
      if (
        await stat(up).then(
          () => true,
          () => false,
        )
      )
        break;
      missing = up;
    }
    // EEXIST: another writer made it since; go on.
    await mkdir(missing, mode).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    });
  }
}

/** Makes a rename or a new entry in `dir` durable (the folder's own entry list is fsynced). */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Writes a new file (exclusive create) and fsyncs it: for files inside a temp folder that is renamed
 * into place whole afterwards (a bundle store entry); fsync the folders, then rename, then the parent.
 */
export async function writeNewFileSynced(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  try {
    const fh = await open(file, 'wx', mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (e) {
    if (isDiskFull(e)) throw await diskFullError(file, e);
    throw e;
  }
}
