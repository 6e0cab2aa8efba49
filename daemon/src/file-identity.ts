// What identifies a file's content without reading it, shared by the bundle check (what was hashed) and the
// sandbox (what is served): a write changes mtime and ctime, and ctime cannot be set back by an unprivileged writer.
import type { BigIntStats } from 'node:fs';

/** A file's device, inode, size, mtime and ctime (nanoseconds), from a bigint stat. */
export interface FileIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** The identity of a file from its `stat`/`fstat` taken with `{ bigint: true }`. */
export const identityOf = (st: BigIntStats): FileIdentity => ({
  dev: st.dev,
  ino: st.ino,
  size: st.size,
  mtimeNs: st.mtimeNs,
  ctimeNs: st.ctimeNs,
});

export const sameIdentity = (a: FileIdentity, b: FileIdentity): boolean =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
