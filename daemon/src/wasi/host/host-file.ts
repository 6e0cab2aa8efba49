// A read-only guest file whose bytes stay in a host file, read on demand: python's stdlib (9 MB, of which a run
// reads a few hundred KB) is no longer held in memory for the daemon's lifetime. The descriptor is opened once on
// the main thread and its number posted to workers (they share the process's descriptor table); every read is
// checked against the file's identity at open, so a file changed after its bundle was checked is never served.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { identityOf, sameIdentity, type FileIdentity } from '../../file-identity.js';
import { E } from './defs.js';

export { identityOf, sameIdentity, type FileIdentity };

/** An open host file as a mount carries it (a plain object: posted to a worker by structured clone). */
export interface HostFileRef {
  kind: 'host_file';
  fd: number;
  /** Its name for reports (mount-relative, e.g. lib/python311.zip); never used to open anything. */
  name: string;
  /** Its identity at open; `size` is the size the guest sees for the whole run. */
  identity: FileIdentity;
}

/** Why a host file was not served: it differs from what was opened (or could not be read at all). */
export interface HostFileFault {
  name: string;
  reason: 'file_mismatch';
  message: string;
}

/**
 * Opens `path` for on-demand reads: without following a symlink, without blocking (a FIFO swapped in would hang
 * the open), refused unless it is a regular file. The caller closes it (closeHostFile).
 */
export function openHostFile(path: string, name: string): HostFileRef {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!st.isFile()) throw new Error(`${name} is not a regular file`);
    return { kind: 'host_file', fd, name, identity: identityOf(st) };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Closes the descriptor (once: a second close could close a number reused by another open). */
export function closeHostFile(ref: HostFileRef): void {
  if (ref.fd < 0) return;
  const fd = ref.fd;
  ref.fd = -1;
  try {
    closeSync(fd);
  } catch {
    // already closed: nothing else to give back
  }
}

/** Whether the descriptor still holds the file it was opened on, unchanged (a run checks before it starts). */
export function hostFileUnchanged(ref: HostFileRef): boolean {
  try {
    return ref.fd >= 0 && sameIdentity(identityOf(fstatSync(ref.fd, { bigint: true })), ref.identity);
  } catch {
    return false;
  }
}

/**
 * Up to `n` bytes at `pos` (none past the end), or E.IO when the file is not the one opened: checked after the
 * read, so bytes read while it changed are never returned. A descriptor number closed and reused by another
 * open fails the same check (another inode).
 */
export function readHostFile(ref: HostFileRef, pos: number, n: number): Uint8Array | number {
  const size = Number(ref.identity.size);
  if (pos >= size || n <= 0) return new Uint8Array(0);
  const want = Math.min(n, size - pos);
  const buf = new Uint8Array(want);
  try {
    let got = 0;
    for (let r = -1; r !== 0 && got < want; got += r) r = readSync(ref.fd, buf, got, want - got, pos + got);
    if (got !== want) return E.IO;
    return hostFileUnchanged(ref) ? buf : E.IO;
  } catch {
    return E.IO;
  }
}

/** The whole file, checked as readHostFile (the wasmtime runner copies read-only files to a folder). */
export function readWholeHostFile(ref: HostFileRef): Uint8Array {
  const data = readHostFile(ref, 0, Number(ref.identity.size));
  if (typeof data === 'number') throw new Error(`${ref.name} changed on disk after it was checked`);
  return data;
}

/** The fault a run reports when a read of `ref` failed its check. */
export function hostFileFault(ref: HostFileRef): HostFileFault {
  return {
    name: ref.name,
    reason: 'file_mismatch',
    message: `${ref.name} changed on disk after it was checked; its reads were refused (EIO)`,
  };
}
