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

/** Bytes an unprivileged writer may still use on the filesystem holding `p` (its nearest existing folder); undefined when unknown. */
export async function freeBytes(p: string): Promise<number | undefined> {
  let dir = path.resolve(p);
  for (;;) {
    try {
      const st = await statfs(dir);
      return st.bavail * st.bsize;
    } catch {
      const parent = path.dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
  }
}

/** The typed `disk_full` error (-33900) for a write to `file` that failed with `cause`; `data.freeBytes` from statfs. */
export async function diskFullError(file: string, cause: unknown): Promise<ShadowboxError> {
  const free = await freeBytes(file);
  const left = free === undefined ? 'unknown' : `${free} bytes`;
  return new ShadowboxError(
    ErrorCodes.DiskFull,
    'disk_full',
    `no space left on the disk holding ${file} (free: ${left}); free some space and try again`,
    { path: file, freeBytes: free ?? null },
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
