import type { ResultOf, ShadowDiff, ShadowFile, ShadowStatus } from '@shadowbox/protocol';
import { diffItem, linkTarget, listItems, type ReviewItem } from './changes.js';
import { looksBinary } from './diff.js';
import type { LayerStore } from './layer.js';
import type { LayeredView } from './layered-view.js';
import { covers, isStale } from './review.js';

/** What the review reads need of a session. */
export interface ReviewedSession {
  id: string;
  root: string;
  store: LayerStore;
  view: LayeredView;
}

/** Why: `shadow/status` — the pending items with their kind, stale mark and hunk count, the commits, the undo depth. */
export async function statusOf(s: ReviewedSession): Promise<ResultOf<typeof ShadowStatus>> {
  const files = [];
  for (const it of listItems(s.store)) {
    const d = await diffItem(s.store, it);
    files.push({
      path: it.path,
      change: it.change,
      ...(it.oldPath !== undefined ? { oldPath: it.oldPath } : {}),
      binary: d.binary,
      stale: await isStale(s.store, it),
      hunks: d.hunks.length,
      ...(await symlinkOf(s, it)),
    });
  }
  const commits = s.store.m.checkpoints.map((c) => ({ id: c.id, summary: c.summary, time: c.time }));
  return { sessionId: s.id, workspace: s.root, files, commits, undoable: s.store.m.accepts.length };
}

/** The `symlink` field of an item whose old side is a link, and `link` when the agent's version is one. */
async function symlinkOf(s: ReviewedSession, it: ReviewItem): Promise<{ symlink?: string; link?: string }> {
  const link = await linkTarget(s.store, it);
  return {
    ...(link === undefined ? {} : { symlink: link }),
    ...(it.next?.link !== undefined ? { link: it.next.link } : {}),
  };
}

/** Why: `shadow/diff` — each pending item (of `paths`, when given) with its patch and stable hunk ids. */
export async function diffOf(s: ReviewedSession, paths?: string[]): Promise<ResultOf<typeof ShadowDiff>> {
  const wanted = paths?.map((p) => p.replace(/\/+$/, ''));
  const files = [];
  for (const it of listItems(s.store)) {
    if (wanted && !wanted.some((p) => covers(p, it))) continue;
    const d = await diffItem(s.store, it);
    const oldMode = it.old.type === 'file' || it.old.type === 'symlink' ? it.old.mode : undefined;
    files.push({
      path: it.path,
      ...(it.oldPath !== undefined ? { oldPath: it.oldPath } : {}),
      change: it.change,
      binary: d.binary,
      ...(oldMode !== undefined ? { oldMode } : {}),
      ...(it.next ? { newMode: it.next.mode } : {}),
      stale: await isStale(s.store, it),
      ...(await symlinkOf(s, it)),
      patch: d.patch,
      hunks: d.hunks,
    });
  }
  return { sessionId: s.id, files };
}

/** Why: `shadow/file` — one file as the person has it and as the agent left it (both read without following a symlink). */
export async function fileOf(s: ReviewedSession, p: string): Promise<ResultOf<typeof ShadowFile>> {
  const rel = await s.view.resolve(p);
  const realBuf = await s.store.real.readFile(rel).catch(() => null);
  const loc = s.view.locate(rel);
  const shadowBuf =
    loc === null
      ? null
      : await ('oid' in loc ? s.store.readObject(loc.oid) : s.store.real.readFile(loc.real)).catch(() => null);
  const binary = (realBuf !== null && looksBinary(realBuf)) || (shadowBuf !== null && looksBinary(shadowBuf));
  const text = (b: Buffer | null) => (b === null || binary ? null : b.toString('utf8'));
  return { path: rel, real: text(realBuf), shadow: text(shadowBuf), binary };
}

/** What the audit log keeps of a path's state: its kind and blob id, never its content. */
export function digest(
  b: { type: string; oid?: string; mode?: number } | undefined,
): { type: string; oid?: string; mode?: number } | null {
  if (!b) return null;
  return { type: b.type, ...(b.oid ? { oid: b.oid } : {}), ...(b.mode !== undefined ? { mode: b.mode } : {}) };
}
