// The shadow's test seam for crashes and full disks: every durable file operation (state dir and the
// person's files) passes one named point first, so a test can fail it, cut it short or kill the process
// there — deterministically, at the Nth operation — with the real code path around it.

/** The durable operations of the shadow, by where they write. */
export type FaultOp =
  | 'blob.write'
  | 'object.write'
  | 'log.append'
  | 'snapshot.write'
  | 'dat.compact'
  | 'journal.write'
  | 'real.stage'
  | 'real.rename'
  | 'real.link'
  | 'real.unlink'
  | 'real.mkdir'
  | 'real.rmdir'
  | 'pack.write'
  | 'ref.write'
  | 'repack';

/** Why: one injectable hook instead of a mocked fs — production passes none and pays one optional call. */
export interface FaultHook {
  /**
   * Called before each durable operation. It may throw (the operation fails with that error), end the
   * process (a crash at that point), or — for a write of `bytes` — return how many of them reach the file
   * before the write fails with ENOSPC (a short write, as on a full disk).
   */
  before(op: FaultOp, file: string, bytes?: number): number | void;
}

/** An ENOSPC error as the file system reports it (code, errno, syscall, path). */
export { noSpaceError } from '../state/index.js';
