import { chmodSync, copyFileSync, linkSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LayerStore } from './layer.js';
import { type Entry, isLinkEntry } from './layer-types.js';

/** What a materialized layer holds. */
export interface OverlayLower {
  files: number;
  links: number;
  whiteouts: number;
  /** Absolute paths of folders that must be opaque (they replace a removed folder): the caller marks them. */
  opaque: string[];
}

const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');

/** True when an ancestor of `rel` already hides everything below it in the materialized layer. */
function hiddenBelow(entries: Record<string, Entry>, rel: string): boolean {
  for (let a = parentOf(rel); a !== ''; a = parentOf(a)) {
    const e = entries[a];
    if (e && e.kind !== 'dir') return true;
  }
  return false;
}

/**
 * Why: a sandboxed command must see the session's pending changes, not only the real files. This writes
 * the layer as an overlayfs lower layer in `dir` — O(pending changes), never O(repository): files with
 * their modes, links as links, new folders, and each deletion as a whiteout (a hard link to `whiteout`,
 * one 0/0 character device the caller made); only the topmost deletion of a removed folder is needed.
 * `hide` adds whiteouts for paths the run must not see at all (a state dir inside the workspace, paths a
 * deny rule keeps from the call). Folders that replace a removed one are returned for the caller to mark
 * opaque (an xattr).
 */
export async function writeOverlayLower(
  store: LayerStore,
  dir: string,
  whiteout: string,
  hide: string[],
): Promise<OverlayLower> {
  const out: OverlayLower = { files: 0, links: 0, whiteouts: 0, opaque: [] };
  const entries = store.m.entries;
  const made = new Set<string>(['']);
  const ensureDir = (rel: string) => {
    if (made.has(rel)) return;
    ensureDir(parentOf(rel));
    mkdirSync(path.join(dir, rel), { mode: 0o755 });
    made.add(rel);
  };
  const whiteoutAt = (rel: string) => {
    ensureDir(parentOf(rel));
    rmSync(path.join(dir, rel), { recursive: true, force: true });
    linkSync(whiteout, path.join(dir, rel));
    out.whiteouts++;
  };
  for (const rel of Object.keys(entries).sort()) {
    const e = entries[rel];
    if (hiddenBelow(entries, rel)) continue;
    const abs = path.join(dir, rel);
    if (e.kind === 'deleted') whiteoutAt(rel);
    else if (e.kind === 'dir') {
      ensureDir(rel);
      if (e.opaque) out.opaque.push(abs);
    } else if (isLinkEntry(e)) {
      ensureDir(parentOf(rel));
      symlinkSync(e.link, abs);
      out.links++;
    } else {
      ensureDir(parentOf(rel));
      const src = await store.objectSource(e.oid);
      if ('bytes' in src) writeFileSync(abs, src.bytes);
      else copyFileSync(src.object, abs);
      // The entry's permission bits exactly (not the umask's or the object file's; never set-id bits).
      chmodSync(abs, e.mode & 0o777);
      out.files++;
    }
  }
  for (const rel of hide) {
    // A path below something the layer already hides (a removed folder) needs nothing more.
    if (rel === '' || hiddenBelow(entries, rel) || (entries[rel] && entries[rel].kind !== 'dir')) continue;
    whiteoutAt(rel);
  }
  return out;
}
