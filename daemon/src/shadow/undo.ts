import { isDeepStrictEqual } from 'node:util';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { restorePaths, type Restore } from './accept-restore.js';
import type { AcceptRecord, Journal } from './journal.js';
import type { LayerStore } from './layer.js';
import type { Base, Entry } from './layer-types.js';
import type { RealWriter } from './real-writer.js';
import type { Logger } from '../state/index.js';

export interface UndoOutcome {
  record: AcceptRecord;
  /** Paths whose real bytes were put back. */
  restored: string[];
  /** Directories the accept had created and the undo removed (they were empty). */
  removedDirs: string[];
  /** Paths left as the person has them (only after a crash: they changed while the undo was interrupted). */
  conflicts: string[];
}

/**
 * Why: undoes the session's last accept — the real files get back the exact bytes they had before it,
 * and what it wrote becomes pending again — without losing what happened in the layer since (a hunk
 * rejected or an edit the agent made after the accept stays as it is). Refused when the person changed
 * a written file since; then nothing changes. Journaled (`undoing`) before any path changes, so a
 * crash in the middle is finished by the next open (`finishUndo`).
 */
export async function applyUndo(
  store: LayerStore,
  journal: Journal,
  writer: () => RealWriter,
  logger?: Logger,
): Promise<UndoOutcome> {
  const id = store.m.accepts.at(-1);
  if (!id)
    throw new ShadowboxError(ErrorCodes.NothingToUndo, 'nothing_to_undo', 'no accept to undo in this session', {});
  const r = await journal.read(id);
  const changed: string[] = [];
  for (const f of r.files) if (!f.after || !(await store.realMatches(f.path, f.after))) changed.push(f.path);
  if (changed.length > 0) {
    throw new ShadowboxError(
      ErrorCodes.UndoRefused,
      'changed_since_accept',
      `not undoing: changed since the accept: ${changed.join(', ')}`,
      { acceptId: id, paths: changed },
    );
  }
  // Journaled as `undoing` (with the temps it will use) before any path changes: restorePaths writes it.
  r.state = 'undoing';
  r.temps = [];
  return finishUndo(store, journal, r, writer, logger, true);
}

/**
 * Puts back every path of an accept being undone, then the layer. A path that already holds its
 * before-bytes needs nothing (a crash came after it); one that no longer holds what the accept wrote
 * is the person's since the crash, and is kept and reported. Ends with the journal at `undone`.
 */
export async function finishUndo(
  store: LayerStore,
  journal: Journal,
  r: AcceptRecord,
  writer: () => RealWriter,
  logger?: Logger,
  /** Every path was just checked to hold what the accept wrote (under the session lock): restore them all. */
  verified = false,
): Promise<UndoOutcome> {
  const items: Restore[] = [];
  const conflicts: string[] = [];
  for (const f of r.files) {
    if (verified) items.push({ path: f.path, to: f.before });
    else if (await store.realMatches(f.path, f.before)) continue;
    else if (f.after && (await store.realMatches(f.path, f.after))) items.push({ path: f.path, to: f.before });
    else conflicts.push(f.path);
  }
  const w = writer();
  let removedDirs: string[];
  try {
    const out = await restorePaths(store, w, r, items, () => journal.write(r));
    conflicts.push(...out.kept.map((k) => k.path));
    removedDirs = out.removedDirs;
  } finally {
    await w.close();
  }
  if (store.m.accepts.at(-1) === r.id) {
    await restoreLayer(store, r);
    store.m.accepts.pop();
  }
  r.state = 'undone';
  if (conflicts.length > 0) r.conflicts = conflicts;
  // The real files are back: a full disk now does not make the undo fail (a retry would undo the accept
  // before it) — the layer is kept for the next save, or finished from the `undoing` journal by the next open.
  try {
    await store.save({ onFailure: 'keep' });
    await journal.write(r);
  } catch (e) {
    logger?.warn(`shadow: undo of ${r.id} is done; saving its state failed (${String(e)}), kept for the next save`);
  }
  return { record: r, restored: r.files.map((f) => f.path), removedDirs, conflicts };
}

/** JSON-equal (key order and undefined fields ignored): live layer objects against journaled ones. */
const sameJson = (a: unknown, b: unknown) =>
  isDeepStrictEqual(JSON.parse(JSON.stringify(a ?? null)), JSON.parse(JSON.stringify(b ?? null)));

/**
 * Puts the layer back for the accept's paths. A path the layer did not touch since the accept gets its
 * pre-accept entry back (base, stale mark and all: a forced or merged accept is reviewed as it was).
 * A path the layer changed since (a rejected hunk, a new agent edit) keeps what the agent's view shows
 * now, re-based on the real bytes the undo put back, so the accepted changes are pending again on top
 * of what happened since.
 */
async function restoreLayer(store: LayerStore, r: AcceptRecord): Promise<void> {
  const before = r.layerBefore;
  if (!before) return;
  const after = r.layerAfter;
  for (const p of Object.keys(before.entries)) {
    const now = { entry: store.m.entries[p] ?? null, known: store.m.known[p] ?? null };
    const untouched = !after || sameJson(now, { entry: after.entries[p] ?? null, known: after.known[p] ?? null });
    const real = untouched ? null : await store.captureBase(p);
    // Without a layer entry the view showed what the accept left real (a new directory it made real: a directory).
    const wrote = r.files.find((f) => f.path === p)?.after ?? { type: 'dir' };
    const next = real === null ? undefined : rebase(store.m.entries[p], wrote, real);
    if (next === undefined || real === null) {
      setEntry(store, p, before.entries[p] ?? null);
      setKnown(store, p, before.known[p] ?? null);
    } else {
      setEntry(store, p, next);
      setKnown(store, p, real);
    }
    store.markDirty(p, 'review');
  }
}

/**
 * The entry that shows `cur` (or, without one, what the accept wrote) over `real`; null when the view
 * equals the real path; undefined when the layer cannot show it (a symlink) and the pre-accept entry is used.
 */
function rebase(cur: Entry | undefined, wrote: Base, real: Base): Entry | null | undefined {
  const sameFile = (oid: string, mode: number) => real.type === 'file' && real.oid === oid && real.mode === mode;
  if (cur?.kind === 'file' && cur.link !== undefined)
    return real.type === 'symlink' && real.oid === cur.oid ? null : { ...cur, base: real };
  if (cur?.kind === 'file')
    return cur.from === undefined && sameFile(cur.oid, cur.mode) ? null : { ...cur, base: real };
  if (cur?.kind === 'deleted') return real.type === 'none' ? null : { kind: 'deleted', base: real };
  if (cur?.kind === 'dir')
    return real.type === 'dir' && !cur.opaque ? null : { kind: 'dir', base: real, opaque: cur.opaque };
  if (wrote.type === 'symlink') return undefined;
  if (wrote.type === 'file')
    return sameFile(wrote.oid, wrote.mode)
      ? null
      : { kind: 'file', oid: wrote.oid, mode: wrote.mode, size: wrote.size, mtimeMs: Date.now(), base: real };
  if (wrote.type === 'none') return real.type === 'none' ? null : { kind: 'deleted', base: real };
  return real.type === 'dir' ? null : { kind: 'dir', base: real, opaque: false };
}

function setEntry(store: LayerStore, p: string, e: Entry | null): void {
  if (e) store.m.entries[p] = e;
  else delete store.m.entries[p];
}

function setKnown(store: LayerStore, p: string, b: Base | null): void {
  if (b) store.m.known[p] = b;
  else delete store.m.known[p];
}
