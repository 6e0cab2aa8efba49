import { open, readFile } from 'node:fs/promises';
import type { LayerStore } from './layer.js';
import type { Base } from './layer-types.js';
import { diffText, type HunkInfo, looksBinary, MAX_DIFF_BYTES } from './diff.js';

export type ChangeKind = 'added' | 'modified' | 'deleted' | 'renamed';

/** A pending review item: one file (or one otherwise empty directory, path ending in "/"). */
export interface ReviewItem {
  path: string;
  oldPath?: string;
  change: ChangeKind;
  /** What the agent's edit is based on (the diff's old side). */
  old: Base;
  /** The agent's version; null for a deletion. `link`: it is a symbolic link to this target (oid = the target's blob). */
  next: { oid: string; mode: number; size: number; link?: string } | null;
  /** Real state the target path must still have for a plain write (for renames: the source's base is `old`). */
  targetBase: Base;
  dir: boolean;
  /** A deletion of a symlink (or file) the agent replaced with a folder: accept removes it first, before writing below it. */
  replaced?: boolean;
}

const under = (rel: string, dir: string) => rel.startsWith(dir + '/');

/** Lists the layer's pending changes as review items, O(layer entries). */
export function listItems(store: LayerStore): ReviewItem[] {
  const entries = store.m.entries;
  const consumed = new Set<string>();
  const items: ReviewItem[] = [];
  const keys = Object.keys(entries).sort();
  for (const k of keys) {
    const e = entries[k];
    if (e.kind !== 'file') continue;
    const src = e.from !== undefined ? entries[e.from] : undefined;
    const next = { oid: e.oid, mode: e.mode, size: e.size, ...(e.link !== undefined ? { link: e.link } : {}) };
    if (e.from !== undefined && src?.kind === 'deleted' && (src.base.type === 'file' || src.base.type === 'symlink')) {
      consumed.add(e.from);
      items.push({ path: k, oldPath: e.from, change: 'renamed', old: src.base, next, targetBase: e.base, dir: false });
    } else if (e.base.type === 'file' || e.base.type === 'symlink') {
      const sameType = e.base.type === (e.link !== undefined ? 'symlink' : 'file');
      if (sameType && e.base.oid === e.oid && e.base.mode === e.mode) continue;
      items.push({ path: k, change: 'modified', old: e.base, next, targetBase: e.base, dir: false });
    } else items.push({ path: k, change: 'added', old: { type: 'none' }, next, targetBase: e.base, dir: false });
  }
  for (const k of keys) {
    const e = entries[k];
    if (e.kind === 'deleted' && (e.base.type === 'file' || e.base.type === 'symlink') && !consumed.has(k)) {
      items.push({ path: k, change: 'deleted', old: e.base, next: null, targetBase: e.base, dir: false });
    }
  }
  // A symlink or file the agent replaced with a folder: its removal is a reviewed step of its own.
  for (const k of keys) {
    const e = entries[k];
    if (e.kind === 'dir' && (e.base.type === 'file' || e.base.type === 'symlink'))
      items.push({
        path: k,
        change: 'deleted',
        old: e.base,
        next: null,
        targetBase: e.base,
        dir: false,
        replaced: true,
      });
  }
  // Directories appear only when nothing below them is an item (a new empty dir, a removed empty dir).
  const filePaths = items.map((i) => i.path).concat([...consumed]);
  for (const k of keys) {
    const e = entries[k];
    const isNew = e.kind === 'dir' && e.base.type === 'none';
    const isGone = e.kind === 'deleted' && e.base.type === 'dir';
    if (!isNew && !isGone) continue;
    if (filePaths.some((p) => under(p, k)) || keys.some((o) => under(o, k) && entries[o].kind === 'dir')) continue;
    items.push({
      path: `${k}/`,
      change: isNew ? 'added' : 'deleted',
      old: e.base,
      next: null,
      targetBase: e.base,
      dir: true,
    });
  }
  return items.sort((a, b) => (a.path < b.path ? -1 : 1));
}

/** Text of a stored blob, or null when it is binary or too large to diff. */
export async function readText(
  store: LayerStore,
  oid: string | null,
  size: number,
): Promise<{ text: string | null; binary: boolean }> {
  if (oid === null) return { text: '', binary: false };
  if (store.isInline(oid)) {
    const buf = await store.readObject(oid);
    if (looksBinary(buf.subarray(0, 8000))) return { text: null, binary: true };
    return size > MAX_DIFF_BYTES ? { text: null, binary: false } : { text: buf.toString('utf8'), binary: false };
  }
  const file = await store.objectFile(oid);
  const h = await open(file, 'r');
  try {
    const head = Buffer.alloc(Math.min(8000, size));
    await h.read(head, 0, head.byteLength, 0);
    if (looksBinary(head)) return { text: null, binary: true };
  } finally {
    await h.close();
  }
  if (size > MAX_DIFF_BYTES) return { text: null, binary: false };
  return { text: await readFile(file, 'utf8'), binary: false };
}

export interface ItemDiff {
  binary: boolean;
  /** Both sides are text small enough for hunks. */
  textual: boolean;
  oldText: string | null;
  newText: string | null;
  patch: string;
  hunks: HunkInfo[];
}

/** The target of the symlink an item removes or replaces (undefined when its old side is not a link). */
export async function linkTarget(store: LayerStore, item: ReviewItem): Promise<string | undefined> {
  return item.old.type === 'symlink' ? (await store.readObject(item.old.oid)).toString('utf8') : undefined;
}

/** The diff of one review item: hunks for text, a one-line summary for binary or very large files and for symlinks. */
export async function diffItem(store: LayerStore, item: ReviewItem): Promise<ItemDiff> {
  if (item.dir) return { binary: false, textual: false, oldText: null, newText: null, patch: '', hunks: [] };
  const link = await linkTarget(store, item);
  const made = item.next?.link;
  if (made !== undefined) {
    // A link the agent made: reviewed and accepted whole; accept creates the link, never writes through it.
    const patch =
      link !== undefined
        ? `changed ${item.path}: symlink → ${link} becomes symlink → ${made}\n`
        : item.old.type === 'file'
          ? `replaced ${item.path} (a file of ${item.old.size} bytes) with symlink → ${made}\n`
          : `added ${item.path} (symlink → ${made})\n`;
    return { binary: false, textual: false, oldText: null, newText: null, patch, hunks: [] };
  }
  if (link !== undefined) {
    // A link is removed or replaced whole (what it points to is never part of the change).
    const patch =
      item.change === 'deleted'
        ? `deleted ${item.path} (symlink → ${link})\n`
        : `replaced ${item.path} (symlink → ${link}) with a file of ${item.next?.size ?? 0} bytes\n`;
    return { binary: false, textual: false, oldText: null, newText: null, patch, hunks: [] };
  }
  const oldHasBlob = item.old.type === 'file' || item.old.type === 'symlink';
  const o = oldHasBlob
    ? await readText(store, (item.old as { oid: string }).oid, (item.old as { size: number }).size)
    : { text: '', binary: false };
  const n = item.next ? await readText(store, item.next.oid, item.next.size) : { text: '', binary: false };
  const binary = o.binary || n.binary;
  if (o.text === null || n.text === null) {
    const oldPath = item.oldPath ?? item.path;
    const what = binary ? 'Binary files' : 'Large files';
    return {
      binary,
      textual: false,
      oldText: null,
      newText: null,
      patch: `${what} a/${oldPath} and b/${item.path} differ\n`,
      hunks: [],
    };
  }
  const d = diffText(item.path, item.oldPath ?? item.path, o.text, n.text);
  return { binary: false, textual: true, oldText: o.text, newText: n.text, ...d };
}
