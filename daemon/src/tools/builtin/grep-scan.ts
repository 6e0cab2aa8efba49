// What grep's walk would search, found without walking file by file in order: the folders of the view
// listed (through the view: the layer merged, denied paths left out) with the walk's own .gitignore
// rules (walk.ts: loadIgnore, isIgnored). When rg walks the real tree itself (grep-rg-walk.ts), this is
// the list its output is held against, and the files it cannot see (links, the layer's files).
import type { WorkspaceView } from '../../shadow/index.js';
import { isIgnored, loadIgnore, type Matcher } from './walk.js';

/** Folders listed at once (each listing is a readdir through the view). */
const PARALLEL_LISTINGS = 16;

/** A name rg's path sort could order differently from the walk's (UTF-16 above U+D7FF), or that splits rg's output lines. */
const ODD_NAME = /[\n\uD800-\uFFFF]/;
/** A path rg's glob syntax reads literally (an ignored folder passed as `--glob '!/path'`). */
const PLAIN_PATH = /^[A-Za-z0-9._-]+(?:\/[A-Za-z0-9._-]+)*$/;

/** What the walk from `base` would hand to the searches. */
export interface Scan {
  /** Regular files the view shows as the person's own (WorkspaceView.isReal): what rg may report. */
  eligible: Set<string>;
  /** Links and files the layer holds (or hides): searched in process, through the view. */
  inProcess: string[];
  /** Folders the walk does not enter because .gitignore excludes them, when their path is plain (rg excludes). */
  excludes: string[];
  /** Files the walk would find (eligible + inProcess). */
  total: number;
}

/**
 * Lists every folder the walk would enter below `base` and sorts its files as the walk does; null when a
 * name could make rg's order or output differ from the walk's (the caller takes the explicit-list path).
 */
export async function scanForRg(view: WorkspaceView, base: string, signal: AbortSignal): Promise<Scan | null> {
  const isReal = view.isReal?.bind(view);
  if (!isReal) return null;
  const inherited: Matcher[] = [];
  const parts = base ? base.split('/') : [];
  for (let i = 0; i < parts.length; i++) await loadIgnore(view, parts.slice(0, i).join('/'), inherited);
  const scan: Scan = { eligible: new Set(), inProcess: [], excludes: [], total: 0 };
  let odd = false;
  const todo: Array<{ dir: string; matchers: Matcher[] }> = [{ dir: base, matchers: inherited }];
  const list = async (dir: string, matchers: Matcher[]): Promise<void> => {
    let raw;
    try {
      raw = await view.readdir(dir);
    } catch {
      return; // unreadable (or vanished): the walk skips it too
    }
    const own = [...matchers];
    if (raw.some((e) => e.name === '.gitignore' && e.type !== 'dir')) await loadIgnore(view, dir, own);
    for (const e of raw) {
      if (ODD_NAME.test(e.name)) odd = true;
      if (e.name === '.git' || e.type === 'other') continue;
      const path = dir ? `${dir}/${e.name}` : e.name;
      if (e.type === 'dir') {
        if (!isIgnored(own, path, true)) todo.push({ dir: path, matchers: own });
        else if (PLAIN_PATH.test(path)) scan.excludes.push(path);
        continue;
      }
      if (isIgnored(own, path, false)) continue;
      scan.total++;
      if (e.type === 'file' && isReal(path)) scan.eligible.add(path);
      else scan.inProcess.push(path);
    }
  };
  // A small pool: up to PARALLEL_LISTINGS folders listed at once, new folders taken as they are found.
  const running = new Set<Promise<void>>();
  while ((todo.length > 0 || running.size > 0) && !odd && !signal.aborted) {
    while (todo.length > 0 && running.size < PARALLEL_LISTINGS) {
      const next = todo.pop()!;
      const p: Promise<void> = list(next.dir, next.matchers).finally(() => running.delete(p));
      running.add(p);
    }
    if (running.size > 0) await Promise.race(running);
  }
  await Promise.all(running);
  if (odd) return null;
  scan.inProcess.sort(walkOrder);
  return scan;
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
