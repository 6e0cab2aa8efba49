import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';

// A local stand-in for the daemon-wide disk-full helper (issue 15 puts one in state/); same names and
// behaviour, so the audit log switches to it without other changes once it is on main.

/** True for ENOSPC/EDQUOT (the disk or the quota is full), or an already-typed DiskFull. */
export function isDiskFull(e: unknown): boolean {
  if (isShadowboxError(e, ErrorCodes.DiskFull)) return true;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

/** The typed DiskFull error (-33900, reason disk_full) for a write to `file`, with the bytes left (statfs). */
export async function diskFullError(file: string, cause: unknown): Promise<ShadowboxError> {
  let free: number | null = null;
  for (let dir = path.dirname(path.resolve(file)); ; dir = path.dirname(dir)) {
    const st = await statfs(dir).catch(() => null);
    if (st) {
      free = st.bavail * st.bsize;
      break;
    }
    if (path.dirname(dir) === dir) break;
  }
  return new ShadowboxError(
    ErrorCodes.DiskFull,
    'disk_full',
    `no space left on the disk holding ${file} (free: ${free === null ? 'unknown' : `${free} bytes`})`,
    { path: file, freeBytes: free },
    { cause },
  );
}
