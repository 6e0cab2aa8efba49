import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { LayerStore } from './layer.js';
import type { Base, Entry } from './layer-types.js';

/**
 * Why: a rewind takes back what later turns did to the shadow workspace without touching the person's
 * files. Every path a dropped turn's checkpoint changed gets the layer entry it had at the last kept
 * checkpoint that changed it, or no entry (the real file shows again) when no kept turn changed it. An
 * entry whose bytes the real file already holds (the person accepted it meanwhile) is not put back:
 * nothing is pending there. Paths rejected after the kept turns stay rejected unless a dropped turn changed
 * them. A path no kept checkpoint in the window changed starts from the rewind floor. Refused
 * (rewind_too_far) when a dropped turn's checkpoint left the window. Marks the dropped checkpoints
 * rewound. Returns the paths put back; the caller saves (a whole snapshot: checkpoints changed) and
 * commits. Caller holds the session lock.
 */
export async function rewindLayer(
  store: LayerStore,
  keep: readonly string[],
  drop: readonly string[],
): Promise<string[]> {
  const m = store.m;
  const keepSet = new Set(keep);
  const dropSet = new Set(drop);
  const paths = new Set<string>();
  for (const c of m.checkpoints) {
    if (!dropSet.has(c.turnId) || c.rewound) continue;
    if (!c.entries)
      throw new ShadowboxError(
        ErrorCodes.InvalidParams,
        'rewind_too_far',
        `turn ${c.turnId} is further back than the checkpoints kept for rewinding (the last 50 to 100 that changed files)`,
        { turnId: c.turnId },
      );
    for (const p of Object.keys(c.entries)) paths.add(p);
  }
  const restored: string[] = [];
  for (const p of [...paths].sort()) {
    const floor = m.rewindFloor;
    let want: Entry | null = floor && Object.hasOwn(floor, p) ? floor[p] : null;
    for (const c of m.checkpoints)
      if (keepSet.has(c.turnId) && !c.rewound && c.entries && Object.hasOwn(c.entries, p)) want = c.entries[p];
    if (want?.kind === 'file' && (await store.realMatches(p, asBase(want)))) want = null;
    const current = m.entries[p];
    if (JSON.stringify(current ?? null) === JSON.stringify(want)) continue;
    if (want) m.entries[p] = structuredClone(want);
    else {
      // History holds what the path shows now: the base the dropped entry was made on.
      if (current && current.base.type !== 'dir') m.known[p] = current.base;
      delete m.entries[p];
    }
    store.markDirty(p);
    restored.push(p);
  }
  // The dropped turns' checkpoints no longer describe the workspace (a later trim must not fold them in).
  for (const c of m.checkpoints) if (dropSet.has(c.turnId)) c.rewound = true;
  return restored;
}

function asBase(e: Extract<Entry, { kind: 'file' }>): Base {
  return { type: 'file', oid: e.oid, mode: e.mode, size: e.size, mtimeMs: -1, ino: -1 };
}
