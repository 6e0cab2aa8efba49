import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { FaultHook } from './fault.js';
import type { AcceptRecord, Journal, LayerSlice } from './journal.js';
import type { LayerStore } from './layer.js';
import type { Base, CompactStats, CompactStep } from './layer-types.js';

/** Layer compaction thresholds. */
export interface LayerGcOptions {
  /** Compact when unreferenced bytes exceed this (default 8 MiB)… */
  minGarbageBytes?: number;
  /** …and this share of the object file (default 0.5). */
  garbageRatio?: number;
  /** Accepts kept undoable, newest first (default 50); older ones leave the undo stack and their journals are removed. */
  undoDepth?: number;
  /** Test seam: called between compaction steps (throw to simulate a crash). */
  onCompactStep?: CompactStep;
  /** Test seam: fault injection at the compaction's file operations. */
  faults?: FaultHook;
}

export const DEFAULT_MIN_GARBAGE_BYTES = 8 * 1024 * 1024;
export const DEFAULT_GARBAGE_RATIO = 0.5;
export const DEFAULT_UNDO_DEPTH = 50;

const addBase = (live: Set<string>, b: Base | null | undefined) => {
  if (b && (b.type === 'file' || b.type === 'symlink')) live.add(b.oid);
};
const addSlice = (live: Set<string>, s: LayerSlice | undefined) => {
  for (const e of Object.values(s?.entries ?? {})) {
    if (!e) continue;
    addBase(live, e.base);
    if (e.kind === 'file') live.add(e.oid);
  }
  for (const b of Object.values(s?.known ?? {})) addBase(live, b);
};

/**
 * Every object the layer may still read: current entries (agent bytes and bases), read snapshots,
 * `known` and `committed` states (one per touched path), and everything an undoable or unfinished
 * accept's journal names (before/after bytes, the layer slices undo restores).
 */
export async function liveObjects(store: LayerStore, journal: Journal): Promise<Set<string>> {
  const live = new Set<string>();
  const m = store.m;
  for (const e of Object.values(m.entries)) {
    addBase(live, e.base);
    if (e.kind === 'file') live.add(e.oid);
  }
  for (const b of Object.values(m.reads)) addBase(live, b);
  for (const b of Object.values(m.known)) addBase(live, b);
  for (const b of Object.values(m.committed)) live.add(b.oid);
  const records: AcceptRecord[] = [...(await journal.unfinished())];
  for (const id of m.accepts) records.push(await journal.read(id));
  for (const r of records) {
    for (const f of r.files) {
      addBase(live, f.before);
      addBase(live, f.after);
    }
    addSlice(live, r.layerBefore);
    addSlice(live, r.layerAfter);
  }
  return live;
}

/**
 * Why: a long session rewrites the same files hundreds of times; without this the layer's object
 * file keeps every version ever written. Trims the undo stack to `undoDepth`, then compacts the object
 * store when enough of it is unreferenced. Caller holds the session lock.
 */
export async function collectLayer(
  store: LayerStore,
  journal: Journal,
  journalDir: string,
  opts: LayerGcOptions = {},
): Promise<CompactStats | null> {
  const depth = opts.undoDepth ?? DEFAULT_UNDO_DEPTH;
  if (store.m.accepts.length > depth) {
    const dropped = store.m.accepts.splice(0, store.m.accepts.length - depth);
    await store.save();
    // After the save: a crash in between leaves `done` journals nobody names (harmless, never read).
    for (const id of dropped) await rm(path.join(journalDir, `${id}.json`), { force: true });
  }
  const minBytes = opts.minGarbageBytes ?? DEFAULT_MIN_GARBAGE_BYTES;
  // Cheap test first: a file smaller than the threshold cannot hold that much garbage.
  if (store.datBytes() < minBytes) return null;
  return store.compactObjects(await liveObjects(store, journal), {
    minBytes,
    ratio: opts.garbageRatio ?? DEFAULT_GARBAGE_RATIO,
    ...(opts.onCompactStep ? { onStep: opts.onCompactStep } : {}),
    ...(opts.faults ? { faults: opts.faults } : {}),
  });
}
