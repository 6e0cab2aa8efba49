// Helpers of the rg-walks search (grep-rg-walk.ts): the walk's order of two paths, the names rg could
// order or print differently, and the start folder's ignored subfolders that rg is told to skip.
import type { WorkspaceView } from '../../shadow/index.js';
import { isIgnored, loadIgnore, type Matcher } from './walk.js';

/** A name rg's path sort could order differently from the walk's (UTF-16 above U+D7FF), or that splits rg's output lines. */
export const ODD_NAME = /[\n\uD800-\uFFFF]/;
/** A path rg's glob syntax reads literally (an ignored folder passed as `--glob '!/path'`). */
const PLAIN_PATH = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

/**
 * The folders right below `base` that the walk would not enter because .gitignore excludes them
 * (node_modules, dist…), as far as their paths are plain (read literally as rg globs). rg skipping them
 * is only a saving: whatever rg reports is held against the walk anyway.
 */
export async function ignoredFolders(view: WorkspaceView, base: string): Promise<string[]> {
  const matchers: Matcher[] = [];
  const parts = base ? base.split('/') : [];
  for (let i = 0; i <= parts.length; i++) await loadIgnore(view, parts.slice(0, i).join('/'), matchers);
  if (matchers.length === 0) return [];
  const out: string[] = [];
  for (const e of await view.readdir(base).catch(() => [])) {
    const path = base ? `${base}/${e.name}` : e.name;
    if (e.type === 'dir' && e.name !== '.git' && PLAIN_PATH.test(path) && isIgnored(matchers, path, true))
      out.push(path);
  }
  return out;
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
