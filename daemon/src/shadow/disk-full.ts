import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';

/** True for the errors a full disk or an exhausted quota gives. */
export function isNoSpace(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** Bytes an unprivileged writer can still use on the file system holding `file` (null when unknown). */
export async function freeBytes(file: string): Promise<number | null> {
  for (let p = file; ; p = path.dirname(p)) {
    try {
      const s = await statfs(p);
      return s.bavail * s.bsize;
    } catch {
      if (path.dirname(p) === p) return null;
    }
  }
}

/**
 * Why: a full disk is a state the person can fix, not an internal error — it surfaces as the typed
 * DiskFull (-33900, reason disk_full) naming the file and the space left, with the errno as cause.
 * Anything else is returned as it was.
 */
export async function typedFsError(e: unknown, file: string): Promise<unknown> {
  if (!isNoSpace(e)) return e;
  const free = await freeBytes(file);
  return new ShadowboxError(
    ErrorCodes.DiskFull,
    'disk_full',
    `no space left on the disk holding ${file}${free !== null ? ` (${free} bytes free)` : ''}; free some space and try again — nothing was lost`,
    { path: file, freeBytes: free },
    { cause: e },
  );
}
