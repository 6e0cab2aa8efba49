// Helpers of the rg-walks search (grep-rg-walk.ts): the walk's order of two paths, the names rg could
// order or print differently, what the last walks of a folder found (its size, its ignored folders),
// and the paths the rg processes of a search are given.
import type { WorkspaceView } from '../../shadow/index.js';
import { isIgnored, loadIgnore, type Matcher } from './walk.js';

/** A name rg's path sort could order differently from the walk's (UTF-16 above U+D7FF), or that splits rg's output lines. */
export const ODD_NAME = /[\n\uD800-\uFFFF]/;

/** A path rg's glob syntax reads literally (an ignored folder passed as `--glob=!/path`). */
export const PLAIN_PATH = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

/** What the last complete walk of a folder found: its files, and the folders .gitignore excluded (plain paths). */
export interface Remembered {
  files: number;
  ignored: string[];
}
const MAX_REMEMBERED = 64;
/** Ignored folders kept per folder (rg's arguments stay small). */
export const MAX_IGNORED = 1000;
/** By the view's root and the start folder, most recent last. */
const remembered = new Map<string, Remembered>();

/** What the last walks of `key` found (never a promise about now: the walk checks it every time). */
export function recall(key: string): Remembered | undefined {
  return remembered.get(key);
}

/** Keeps what a walk found: all of it when it was complete (`ignored` given), else only a larger file count. */
export function remember(key: string, files: number, ignored: string[] | null): void {
  const known = remembered.get(key);
  if (ignored === null && (!known || files <= known.files)) return;
  remembered.delete(key);
  remembered.set(key, { files, ignored: ignored ?? known?.ignored ?? [] });
  if (remembered.size > MAX_REMEMBERED) remembered.delete(remembered.keys().next().value!);
}

/** Drops what is known of `key` (it no longer holds). */
export function forget(key: string): void {
  remembered.delete(key);
}

/** Levels rgParts looks down through folders that hold a single folder (src/…). */
const MAX_SPLIT_DEPTH = 8;

/**
 * What the rg runs of one search take, in the walk's order: the paths below `base` (files and folders,
 * never links, `.git` or what .gitignore excludes) down to the first level that holds two folders or
 * more, the files met on the way down taken along — in one part, or with `split` in two halves, the
 * second starting where the first ends, so that two rg processes (each one thread: --sort) search at
 * once and their outputs concatenated are the walk's order; none when there is nothing for rg. Leaving
 * out what the walk skips (node_modules at the top) only saves reading: rg's output is held against the
 * walk whatever it is given.
 */
export async function rgParts(view: WorkspaceView, base: string, split: boolean): Promise<string[][]> {
  let matchers: Matcher[] = [];
  const parts = base ? base.split('/') : [];
  for (let i = 0; i < parts.length; i++) await loadIgnore(view, parts.slice(0, i).join('/'), matchers);
  const before: string[] = [];
  let after: string[] = [];
  const one = (paths: string[]) => (paths.length > 0 ? [paths] : []);
  for (let dir = base, depth = 0; ; depth++) {
    const raw = await view.readdir(dir).catch(() => null);
    if (!raw) return one([...before, dir === '' ? '.' : dir, ...after]); // rg says what it is (or nothing)
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
    if (dirs.length === 1 && depth < MAX_SPLIT_DEPTH) {
      const at = kept.indexOf(dirs[0]);
      before.push(...kept.slice(0, at).map((e) => e.path));
      after = [...kept.slice(at + 1).map((e) => e.path), ...after];
      dir = dirs[0].path;
      matchers = own;
      continue;
    }
    const paths = kept.map((e) => e.path);
    if (!split || dirs.length < 2) return one([...before, ...paths, ...after]);
    const half = Math.ceil(paths.length / 2);
    return [
      [...before, ...paths.slice(0, half)],
      [...paths.slice(half), ...after],
    ];
  }
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
