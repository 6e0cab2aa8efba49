// The accept's work around RealWriter.keep and after its answer: whether the replaced files may keep a second
// name, dropping those names, the written files' after state from their own fstat, and the work that follows the
// answer (names removed, layer saved, journal `done`). Split from accept.ts, which stays the accept's sequence.
import { rmSync, statfsSync } from 'node:fs';
import type { AcceptDeps } from './accept.js';
import type { Op } from './accept-plan.js';
import type { AcceptRecord } from './journal.js';
import type { LayerStore } from './layer.js';
import type { Base } from './layer-types.js';

const breathe = (i: number) => (i % 64 === 63 ? new Promise<void>((r) => setImmediate(r)) : undefined);

/**
 * Removes the second names RealWriter.keep gave the replaced files (in the state dir). Never throws: a name
 * that cannot be removed is logged and left for the session's next open, which empties the folder.
 */
export function dropKept(ops: Op[], logger: AcceptDeps['logger']): void {
  for (const o of ops) {
    if (!o.kept) continue;
    try {
      rmSync(o.kept, { force: true });
    } catch (e) {
      logger?.warn(`shadow: cannot remove ${o.kept} (${String(e)}); the session's next open does`);
    }
    o.kept = undefined;
  }
}

/** Free space a disk keeps beyond the replaced files' blocks for RealWriter.keep to be used at all. */
const KEEP_SPARE_BYTES = 64 * 1024 * 1024;

/**
 * Whether the files this accept replaces may keep a second name until after the answer (RealWriter.keep):
 * only when the workspace's disk holds their size and KEEP_SPARE_BYTES more free. On a nearly full disk the
 * blocks they hold could be what the journal's `applied` record, or a roll-back, needs: there the renames
 * free them at once, as without keep.
 */
export function roomToKeep(store: LayerStore, paths: string[], before: Record<string, Base>): boolean {
  let bytes = 0;
  for (const p of paths) {
    const b = before[p];
    if (b?.type === 'file') bytes += b.size;
  }
  try {
    const f = statfsSync(store.real.root);
    return f.bavail * f.bsize >= bytes + KEEP_SPARE_BYTES;
  } catch {
    return false;
  }
}

/**
 * The replaced files' second names removed (RealWriter.keep: the old files' blocks are freed now), the layer
 * saved, then the journal's `done`. Nothing the accept's answer reports waits for this: once `applied` is on
 * disk the accept has happened (a crash before `done` leaves `applied`, which recovery completes without
 * touching a person's file), and the workspace already holds exactly what was accepted — so the caller may
 * answer first, as long as it still holds the session lock (no other call sees the layer or the journal in
 * between). Never throws: a full disk now does not undo the accept — the layer is kept for the next save
 * (or completed from the journal by the next open).
 */
export async function completeAccept(deps: AcceptDeps, record: AcceptRecord, ops: Op[]): Promise<void> {
  for (const [i, o] of ops.entries()) {
    if (!o.kept) continue;
    try {
      rmSync(o.kept, { force: true });
    } catch (e) {
      // Left for the session's next open, which empties the folder.
      deps.logger?.warn(`shadow: accept ${record.id}: cannot remove ${o.kept} (${String(e)})`);
    }
    o.kept = undefined;
    await breathe(i);
  }
  try {
    await deps.store.save({ onFailure: 'keep' });
    record.state = 'done';
    // The layer that `done` stands for is saved: recovery of an `applied` record finds it and only marks it done.
    await deps.journal.write(record, { durable: false });
  } catch (e) {
    deps.logger?.warn(
      `shadow: accept ${record.id} is done; saving its layer state failed (${String(e)}), kept for the next save`,
    );
  }
}

/**
 * What a path holds after this accept wrote it, without reading it back: the stored object it was staged
 * from, with the staged file's own metadata (fstat after its bytes and mode; the rename keeps its inode and
 * mtime). That is what the accept put there: a change or replacement by the person after the rename that
 * alters the inode, mtime or size is hashed by undo, recovery and review and seen as theirs (no read-back in
 * between could make it count as the accept's). An in-place edit keeping size and mtime (one timestamp tick,
 * or the mtime set back) is not seen — the limit of every stat check. A link, or bytes merged for this accept
 * (not a stored object), are captured from the file instead.
 */
export function writtenBase(o: Op | undefined): Base | null {
  const t = o?.target;
  const st = o?.staged;
  if (t?.kind !== 'write' || !t.stored || !st?.isFile() || st.size !== t.size) return null;
  return { type: 'file', oid: t.oid, mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}
