import type { FaultHook } from './fault.js';
import { gitMode } from './git.js';
import type { LayerStore } from './layer.js';
import type { Base, Blob } from './layer-types.js';
import { initBareRepo, ObjectWriter, RepoObjects } from './objects.js';

/** Creates the workspace's shadow repository (bare, in the state dir) unless it exists; no git process needed. */
export async function ensureRepo(repoDir: string): Promise<void> {
  await initBareRepo(repoDir);
}

export const blobOf = (b: Base | undefined): Blob | null =>
  b && (b.type === 'file' || b.type === 'symlink') ? { oid: b.oid, mode: b.mode, type: b.type } : null;
export const same = (a: Blob | null | undefined, b: Blob | null | undefined) =>
  (a ?? null) === null
    ? (b ?? null) === null
    : !!b && a!.oid === b.oid && gitMode(a!.type, a!.mode) === gitMode(b.type, b.mode);

/** A base as a short stable key: `none`, `dir`, or `<gitmode>:<blob id>`. */
export const baseKey = (b: Base): string =>
  b.type === 'file' || b.type === 'symlink' ? `${gitMode(b.type, b.mode)}:${b.oid}` : b.type;

export const trailer = (sessionId: string, turnId: string) =>
  `\n\nShadowbox-Session: ${sessionId}\nShadowbox-Turn: ${turnId}\n`;

/**
 * Commits the layer's changes since the last checkpoint. Blobs, trees and the commit are written as
 * loose objects directly (objects.ts), trees holding only the paths the session touched: cost
 * follows the number of changed files, never the size of the workspace, and no git process runs. When the agent's edits are based on real
 * bytes history has not seen yet, a "real files" commit goes first so each turn commit is exactly
 * the agent's change; what accept, reject and undo changed since the last turn goes into its own commit too,
 * so a turn that wrote nothing is no checkpoint and a checkpoint's files are the turn's own.
 */
export async function commitCheckpoint(
  repoDir: string,
  store: LayerStore,
  turnId: string,
  summary: string,
  objects = new RepoObjects(repoDir),
  faults?: FaultHook,
): Promise<{ commit: string; files: string[] } | null> {
  const m = store.m;
  const baseChanges = new Map<string, Blob | null>();
  const reviewChanges = new Map<string, Blob | null>();
  const turnChanges = new Map<string, Blob | null>();
  const dirty = Object.keys(m.dirty);
  for (const p of dirty) {
    const e = m.entries[p];
    if (e && e.kind !== 'dir') {
      const b = blobOf(e.base);
      // History already holds this base or a turn derived from it (a file edited again in a later turn).
      if (!same(b, m.committed[p]) && m.committed[p]?.on !== baseKey(e.base)) baseChanges.set(p, b);
    }
    const want: Blob | null = e
      ? e.kind === 'file'
        ? { oid: e.oid, mode: e.mode, type: e.link !== undefined ? 'symlink' : 'file', on: baseKey(e.base) }
        : null
      : blobOf(m.known[p]);
    const have = baseChanges.has(p) ? baseChanges.get(p) : (m.committed[p] ?? null);
    // What accept, reject and undo changed is history too, but not this turn's work.
    if (!same(want, have)) (m.dirty[p] === 2 ? reviewChanges : turnChanges).set(p, want);
  }
  if (turnChanges.size === 0 && reviewChanges.size === 0) {
    for (const p of dirty) delete m.dirty[p];
    await store.save();
    return null;
  }
  const w = new ObjectWriter(repoDir, objects, faults);
  const blobs = [
    ...new Set(
      [...baseChanges.values(), ...reviewChanges.values(), ...turnChanges.values()]
        .filter((b): b is Blob => b !== null)
        .map((b) => b.oid),
    ),
  ];
  await pool(blobs, 16, (oid) => copyBlob(w, store, oid));
  // The layer's state changes only after the objects and the ref are on disk: a failure leaves it as it was.
  const committed = { ...m.committed };
  let tip = m.tip;
  const commitFrom = async (changes: Map<string, Blob | null>, message: string) => {
    for (const [p, b] of changes) {
      if (b) committed[p] = b;
      else delete committed[p];
    }
    tip = await w.putCommit(await w.putTree(committed), tip, message);
    return tip;
  };
  if (baseChanges.size > 0)
    await commitFrom(baseChanges, `shadowbox: real files before turn ${turnId}${trailer(m.sessionId, turnId)}`);
  if (reviewChanges.size > 0)
    await commitFrom(
      reviewChanges,
      `shadowbox: review (accept, reject, undo) before turn ${turnId}${trailer(m.sessionId, turnId)}`,
    );
  const commit =
    turnChanges.size > 0
      ? await commitFrom(turnChanges, `${summary.trim() || `turn ${turnId}`}${trailer(m.sessionId, turnId)}`)
      : tip!;
  await w.setRef(`refs/shadowbox/sessions/${m.sessionId}`, commit);
  for (const p of new Set([...baseChanges.keys(), ...reviewChanges.keys(), ...turnChanges.keys()])) {
    const b = committed[p];
    if (b) m.committed[p] = b;
    else delete m.committed[p];
  }
  m.tip = commit;
  for (const p of dirty) delete m.dirty[p];
  // A turn that changed nothing itself (only review actions since the last one) is no checkpoint.
  if (turnChanges.size === 0) {
    await store.save();
    return null;
  }
  const files = [...turnChanges.keys()].sort();
  const entries = Object.fromEntries(files.map((p) => [p, m.entries[p] ? structuredClone(m.entries[p]) : null]));
  m.checkpoints.push({ id: commit, turnId, summary: summary.trim(), time: new Date().toISOString(), entries });
  await store.save();
  return { commit, files };
}

/** Copies a layer object into the shadow repository. */
export async function copyBlob(w: ObjectWriter, store: LayerStore, oid: string): Promise<void> {
  if (store.isInline(oid)) await w.putBlobBytes(oid, await store.readObject(oid));
  else await w.putBlobFile(oid, await store.objectFile(oid));
}

/** Runs fn over items with at most `width` calls in flight. */
async function pool<T>(items: T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}
