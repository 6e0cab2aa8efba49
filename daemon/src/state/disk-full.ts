import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes } from '@shadowbox/protocol';
import { ShadowboxError, isShadowboxError } from '../errors.js';

/** errno codes that mean "no space left" (ENOSPC: the filesystem is full; EDQUOT: the user's quota is). */
const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

/** True for a Node system error meaning the disk (or the quota) is full, or for an already-typed DiskFull. */
export function isDiskFull(e: unknown): boolean {
  if (isShadowboxError(e, ErrorCodes.DiskFull)) return true;
  const code = e instanceof Error && 'code' in e ? (e as NodeJS.ErrnoException).code : undefined;
  return code !== undefined && DISK_FULL_CODES.has(code);
}

/** Bytes left to an unprivileged writer, and files (inodes) where the filesystem counts them. */
export interface FreeSpace {
  bytes: number;
  files: number | undefined;
}

/**
 * What is left on the filesystem holding `p` (its nearest existing folder): bytes an unprivileged writer may still
 * use, and files (inodes) when the filesystem counts them (`files` is undefined where it does not, as on btrfs, which
 * reports 0 of 0); undefined when unknown. A disk can be "full" with bytes to spare: out of inodes.
 */
export async function freeSpace(p: string): Promise<FreeSpace | undefined> {
  let dir = path.resolve(p);
  for (;;) {
    try {
      const st = await statfs(dir);
      return { bytes: st.bavail * st.bsize, files: st.files > 0 ? st.ffree : undefined };
    } catch {
      const parent = path.dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
  }
}

/**
 * `freeSpace` in words, as every disk-full message says it: "123 bytes free", "123 bytes free, 0 files free" (a disk
 * out of inodes is full with bytes to spare), or "free space unknown".
 */
export function freeSpaceText(free: FreeSpace | undefined): string {
  if (!free) return 'free space unknown';
  return `${free.bytes} bytes free${free.files === undefined ? '' : `, ${free.files} files free`}`;
}

/**
 * The typed `disk_full` error (-33900) for a write to `file` that failed with `cause`; `data.freeBytes` and
 * `data.freeFiles` from statfs (null when unknown).
 */
export async function diskFullError(file: string, cause: unknown): Promise<ShadowboxError> {
  const free = await freeSpace(file);
  return new ShadowboxError(
    ErrorCodes.DiskFull,
    'disk_full',
    `no space left on the disk holding ${file} (${freeSpaceText(free)}); free some space and try again`,
    { path: file, freeBytes: free?.bytes ?? null, freeFiles: free?.files ?? null },
    { cause },
  );
}

/**
 * Rethrows ENOSPC/EDQUOT from `fn` as the typed DiskFull error naming `file`; other errors pass unchanged.
 * Every state write goes through it (directly or via writeFileAtomic) so a full disk never reaches a
 * client as "-32603 internal".
 */
export async function mapDiskFull<T>(file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isDiskFull(e) && !isShadowboxError(e)) throw await diskFullError(file, e);
    throw e;
  }
}

/** The DiskFull error behind `e`, following `cause` links (a capability may wrap it in its own code); null when none. */
export function findDiskFull(e: unknown): unknown {
  for (let cur = e, depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    if (isDiskFull(cur)) return cur;
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return null;
}

/**
 * A failed write as the typed DiskFull naming the file and the space left when the disk is full (an
 * already-typed error passes through); anything else is returned as it was, for the caller to rethrow.
 */
export async function typedFsError(e: unknown, file: string): Promise<unknown> {
  if (!isDiskFull(e) || isShadowboxError(e)) return e;
  return diskFullError(file, e);
}
