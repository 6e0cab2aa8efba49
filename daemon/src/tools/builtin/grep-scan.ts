// Helpers of the rg-walks search (grep-rg-walk.ts): the walk's order of two paths, the names rg could
// order or print differently, and the paths two rg processes split between them.
import type { WorkspaceView } from '../../shadow/index.js';
import { isIgnored, loadIgnore, type Matcher } from './walk.js';

/** A name rg's path sort could order differently from the walk's (UTF-16 above U+D7FF), or that splits rg's output lines. */
export const ODD_NAME = /[\n\uD800-\uFFFF]/;

/** Levels rgParts looks down through folders that hold a single folder (src/…) for a place to split. */
const MAX_SPLIT_DEPTH = 8;

/**
 * What the rg runs of one search take, in the walk's order: the paths below `base` (files and folders,
 * never links, never what .gitignore excludes or `.git`) in one or two parts, the second starting where
 * the first ends, so that two rg processes (each one thread: --sort) search at once and their outputs
 * concatenated are the walk's order. Splits the first level that holds two folders or more, taking
 * along the files met on the way down; one part ([base]) when there is none. Leaving out what the walk
 * skips is only a saving: whatever rg reports is held against the walk.
 */
export async function rgParts(view: WorkspaceView, base: string): Promise<string[][]> {
  let matchers: Matcher[] = [];
  const parts = base ? base.split('/') : [];
  for (let i = 0; i < parts.length; i++) await loadIgnore(view, parts.slice(0, i).join('/'), matchers);
  const before: string[] = [];
  let after: string[] = [];
  let dir = base;
  for (let depth = 0; depth < MAX_SPLIT_DEPTH; depth++) {
    const raw = await view.readdir(dir).catch(() => null);
    if (!raw) break;
    const own = [...matchers];
    if (raw.some((e) => e.name === '.gitignore' && e.type !== 'dir')) await loadIgnore(view, dir, own);
    raw.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const kept: Array<{ path: string; dir: boolean }> = [];
    for (const e of raw) {
      const path = dir ? `${dir}/${e.name}` : e.name;
      if (e.name === '.git' || (e.type !== 'dir' && e.type !== 'file')) continue;
      if (!isIgnored(own, path, e.type === 'dir')) kept.push({ path, dir: e.type === 'dir' });
    }
    const dirs = kept.filter((e) => e.dir);
    if (dirs.length === 1) {
      const at = kept.indexOf(dirs[0]);
      before.push(...kept.slice(0, at).map((e) => e.path));
      after = [...kept.slice(at + 1).map((e) => e.path), ...after];
      dir = dirs[0].path;
      matchers = own;
      continue;
    }
    if (dirs.length === 0) break;
    const half = Math.ceil(kept.length / 2);
    return [
      [...before, ...kept.slice(0, half).map((e) => e.path)],
      [...kept.slice(half).map((e) => e.path), ...after],
    ];
  }
  return [[base === '' ? '.' : base]];
}

/**
 * The walk's order of two paths (depth first, each folder's names sorted by UTF-16 code unit): string
 * order with '/' below every other character.
 */
export function walkOrder(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === 0x2f) return -1;
    if (y === 0x2f) return 1;
    return x - y;
  }
  return a.length - b.length;
}
