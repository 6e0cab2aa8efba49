import { gitMode } from './git.js';
import type { Base, Blob, LayerStore } from './layer.js';
import { initBareRepo, ObjectWriter } from './objects.js';

/** Creates the workspace's shadow repository (bare, in the state dir) unless it exists; no git process needed. */
export async function ensureRepo(repoDir: string): Promise<void> {
  await initBareRepo(repoDir);
}

export const blobOf = (b: Base | undefined): Blob | null => (b && (b.type === 'file' || b.type === 'symlink') ? { oid: b.oid, mode: b.mode, type: b.type } : null);
export const same = (a: Blob | null | undefined, b: Blob | null | undefined) => (a ?? null) === null ? (b ?? null) === null : !!b && a!.oid === b.oid && gitMode(a!.type, a!.mode) === gitMode(b.type, b.mode);

export const trailer = (sessionId: string, turnId: string) => `\n\nShadowbox-Session: ${sessionId}\nShadowbox-Turn: ${turnId}\n`;

/**
 * Commits the layer's changes since the last checkpoint. Blobs, trees and the commit are written as
 * loose objects directly (objects.ts), trees holding only the paths the session touched: cost
 * follows the number of changed files, never the size of the workspace, and no git process runs. When the agent's edits are based on real
 * bytes history has not seen yet, a "real files" commit goes first so each turn commit is exactly
 * the agent's change.
 */
export async function commitCheckpoint(repoDir: string, store: LayerStore, turnId: string, summary: string): Promise<{ commit: string; files: string[] } | null> {
  const m = store.m;
  const baseChanges = new Map<string, Blob | null>();
  const turnChanges = new Map<string, Blob | null>();
  const dirty = Object.keys(m.dirty);
  for (const p of dirty) {
    const e = m.entries[p];
    if (e && e.kind !== 'dir') {
      const b = blobOf(e.base);
      if (!same(b, m.committed[p])) baseChanges.set(p, b);
    }
    const want: Blob | null = e ? (e.kind === 'file' ? { oid: e.oid, mode: e.mode, type: 'file' } : null) : blobOf(m.known[p]);
    const have = baseChanges.has(p) ? baseChanges.get(p) : (m.committed[p] ?? null);
    if (!same(want, have)) turnChanges.set(p, want);
  }
  for (const p of dirty) delete m.dirty[p];
  if (turnChanges.size === 0) {
    await store.save();
    return null;
  }
  const w = new ObjectWriter(repoDir);
  const blobs = [...new Set([...baseChanges.values(), ...turnChanges.values()].filter((b): b is Blob => b !== null).map((b) => b.oid))];
  for (let i = 0; i < blobs.length; i += 16) await Promise.all(blobs.slice(i, i + 16).map((oid) => w.putBlobFile(oid, store.objectPath(oid))));
  const commitFrom = async (changes: Map<string, Blob | null>, message: string) => {
    for (const [p, b] of changes) {
      if (b) m.committed[p] = b;
      else delete m.committed[p];
    }
    const tree = await w.putTree({ ...m.committed });
    const commit = await w.putCommit(tree, m.tip, message);
    m.tip = commit;
    return commit;
  };
  if (baseChanges.size > 0) await commitFrom(baseChanges, `shadowbox: real files before turn ${turnId}${trailer(m.sessionId, turnId)}`);
  const commit = await commitFrom(turnChanges, `${summary.trim() || `turn ${turnId}`}${trailer(m.sessionId, turnId)}`);
  await w.setRef(`refs/shadowbox/sessions/${m.sessionId}`, commit);
  const files = [...turnChanges.keys()].sort();
  m.checkpoints.push({ id: commit, turnId, summary: summary.trim(), time: new Date().toISOString() });
  await store.save();
  return { commit, files };
}
