// A module's data segments read from its file into each new instance's memory (see DetachedData): V8 keeps a
// compiled module's bytes as long as the module lives, and CPython's pre-initialized memory is 9.4 MB of its 14 MB
// module, held for the daemon's life. Read on demand, those pages are the kernel's page cache, not the daemon's.
import { closeSync, fstatSync, readSync } from 'node:fs';
import { identityOf, sameIdentity, type FileIdentity } from '../host/host-file.js';
import type { DetachedData } from './protocol.js';

/** The file changed since it was hashed: its bytes are never written into an instance. */
export class DetachedDataChanged extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DetachedDataChanged';
  }
}

function check(d: DetachedData): void {
  let now: FileIdentity;
  try {
    now = identityOf(fstatSync(d.fd, { bigint: true }));
  } catch (e) {
    throw new DetachedDataChanged(`the module file cannot be read any more: ${(e as Error).message}`);
  }
  if (!sameIdentity(now, d.file)) throw new DetachedDataChanged('the module file changed after it was checked');
}

/** Reads at most 1 MiB of the file at a time (a segment longer than that in one read). */
const WINDOW = 1 << 20;

/**
 * Writes the segments into `memory` (a new or zeroed memory at its initial size, of an instance that has not run):
 * the file is checked before and after the reads, so bytes written while reading are never run either (the caller
 * drops the instance on a throw).
 */
export function fillData(memory: ArrayBuffer, d: DetachedData): void {
  check(d);
  const mem = new Uint8Array(memory);
  const t = d.segments;
  let buf = Buffer.allocUnsafeSlow(WINDOW);
  let from = 0;
  let to = 0;
  for (let i = 0; i + 2 < t.length; i += 3) {
    const at = t[i];
    const off = t[i + 1];
    const len = t[i + 2];
    if (off < from || off + len > to) {
      const size = Math.max(WINDOW, len);
      if (buf.length < size) buf = Buffer.allocUnsafeSlow(size);
      let n = 0;
      for (let r = -1; r !== 0 && n < size; n += r) r = readSync(d.fd, buf, n, size - n, off + n);
      from = off;
      to = off + n;
      if (off + len > to) throw new DetachedDataChanged('the module file ends before its data segments do');
    }
    if (at + len > mem.length) throw new DetachedDataChanged('a data segment lies past the memory');
    mem.set(buf.subarray(off - from, off - from + len), at);
  }
  check(d);
}

/** Whether the descriptor still holds the file that was hashed, unchanged (a call checks before it starts). */
export function detachedUnchanged(d: DetachedData): boolean {
  try {
    check(d);
    return true;
  } catch {
    return false;
  }
}

const closed = new WeakSet<DetachedData>();

/**
 * Closes the descriptor of a dropped module's detached data, once: the same object closed again is a no-op (its fd
 * number may name another file by then). Never throws.
 */
export function closeDetached(d: DetachedData | undefined): void {
  if (!d || closed.has(d)) return;
  closed.add(d);
  try {
    closeSync(d.fd);
  } catch {
    // already closed
  }
}
