import ignore, { type Ignore } from 'ignore';
import type { EntryType, WorkspaceView } from '../../shadow/index.js';

/** One entry met while walking the workspace view. */
export interface WalkEntry {
  /** Workspace-relative path. */
  path: string;
  type: EntryType;
  /** 1 for the children of the start directory. */
  depth: number;
  /** Excluded by .gitignore (or .git itself); such directories are not entered. */
  ignored: boolean;
}

export interface WalkOptions {
  /** Deepest level to yield (default: unlimited). */
  maxDepth?: number;
  signal?: AbortSignal;
  /** The event loop gets a turn after this long of walking without one (default SLICE_MS). */
  sliceMs?: number;
}

/**
 * Small folders are listed synchronously (RealFs.readdir), so a walk can go on for long without the event loop
 * getting a turn: it takes one (setImmediate) after this long, so other clients' requests wait at most about this.
 */
const SLICE_MS = 4;

interface Matcher {
  base: string;
  ig: Ignore;
  /**
   * Answers by name (`name` or `name/` for a folder) when every rule of the file matches by name alone (no
   * `/` but a trailing one): then, below folders the walk entered (none of them ignored), whether an entry
   * is ignored depends on its name only, and a tree repeats names (index.ts, package.json) folder after folder.
   */
  byName: Map<string, boolean> | null;
}

/**
 * walkBatches()'s unit: entries of one folder in name order. `whole` when they are all of that folder's entries
 * (it enters no folder before its last entry), so a caller can stand the batch for the folder's listing.
 */
export type WalkBatch = readonly WalkEntry[] & { readonly whole?: true };

/** A directory's entries, ignore flags computed, and the matchers its children inherit. */
interface Listing {
  entries: WalkEntry[];
  matchers: Matcher[];
}

const join = (dir: string, name: string): string => (dir ? `${dir}/${name}` : name);

/** Folders listed ahead of the one being yielded (their readdir runs while earlier entries are consumed). */
const PREFETCH = 16;

/**
 * Walks the view depth-first in name order, honouring .gitignore files (the start directory's
 * ancestors' and every nested one) and never entering .git or symlinked directories (no loops).
 */
export async function* walk(view: WorkspaceView, start: string, o: WalkOptions = {}): AsyncGenerator<WalkEntry> {
  for await (const batch of walkBatches(view, start, o)) yield* batch;
}

/**
 * walk()'s entries in the same order, a run of one folder's entries at a time (up to and including the
 * next folder it enters): a caller that handles thousands of files saves a generator step per file.
 * One generator, an explicit stack, and the listings of the next folders read ahead (a folder's
 * readdir costs a resolve of its path; done one after the other, a 20,000-file tree waited ~4× longer).
 */
export async function* walkBatches(view: WorkspaceView, start: string, o: WalkOptions = {}): AsyncGenerator<WalkBatch> {
  const inherited: Matcher[] = [];
  const parts = start ? start.split('/') : [];
  for (let i = 0; i < parts.length; i++) await loadIgnore(view, parts.slice(0, i).join('/'), inherited);
  const pending = new Map<string, Promise<Listing | null>>();
  const list = (dir: string, depth: number, matchers: Matcher[]) => {
    let p = pending.get(dir);
    if (!p) pending.set(dir, (p = listDir(view, dir, depth, matchers)));
    return p;
  };
  const enters = (e: WalkEntry) => e.type === 'dir' && !e.ignored && (o.maxDepth === undefined || e.depth < o.maxDepth);
  // Each frame: a listing, the index of its next entry, how far read-ahead got and how many it has running.
  const stack: Array<{ listing: Listing; next: number; scan: number; ahead: number }> = [];
  const first = await list(start, 1, inherited);
  pending.delete(start);
  if (first) stack.push({ listing: first, next: 0, scan: 0, ahead: 0 });
  const sliceMs = o.sliceMs ?? SLICE_MS;
  let turn = performance.now();
  while (stack.length > 0) {
    if (performance.now() - turn >= sliceMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      turn = performance.now();
    }
    if (o.signal?.aborted) return;
    const top = stack[stack.length - 1];
    const { entries, matchers } = top.listing;
    if (top.next >= entries.length) {
      stack.pop();
      continue;
    }
    // Read ahead: the next few folders of this listing start listing now.
    for (; top.scan < entries.length && top.ahead < PREFETCH; top.scan++)
      if (enters(entries[top.scan])) {
        top.ahead++;
        void list(entries[top.scan].path, entries[top.scan].depth + 1, matchers);
      }
    // This folder's entries up to and including the next one entered.
    let end = top.next;
    while (end < entries.length && !enters(entries[end])) end++;
    const batch: WalkEntry[] & { whole?: true } = entries.slice(top.next, Math.min(end + 1, entries.length));
    if (top.next === 0 && batch.length === entries.length) batch.whole = true;
    top.next += batch.length;
    yield batch;
    const e = batch[batch.length - 1];
    if (enters(e)) {
      top.ahead--;
      const child = await list(e.path, e.depth + 1, matchers);
      pending.delete(e.path);
      if (child) stack.push({ listing: child, next: 0, scan: 0, ahead: 0 });
    }
  }
}

/** Lists one folder: sorted entries with ignore flags (its own .gitignore applied); null when unreadable or gone. */
async function listDir(view: WorkspaceView, dir: string, depth: number, inherited: Matcher[]): Promise<Listing | null> {
  let raw;
  try {
    raw = await view.readdir(dir);
  } catch {
    return null; // unreadable (or vanished) directories are skipped, not fatal
  }
  const matchers = [...inherited];
  if (raw.some((e) => e.name === '.gitignore' && e.type !== 'dir')) await loadIgnore(view, dir, matchers);
  raw.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const entries = raw.map((e) => {
    const path = join(dir, e.name);
    const ignored = e.name === '.git' || isIgnored(matchers, path, e.name, e.type === 'dir');
    return { path, type: e.type, depth, ignored };
  });
  return { entries, matchers };
}

async function loadIgnore(view: WorkspaceView, dir: string, into: Matcher[]): Promise<void> {
  let text: string;
  try {
    text = Buffer.from(await view.readFile(join(dir, '.gitignore'))).toString('utf8');
  } catch {
    return; // no .gitignore there
  }
  into.push({ base: dir, ig: ignore().add(text), byName: byNameOnly(text) ? new Map() : null });
}

/**
 * True when no rule of a .gitignore holds a `/` other than trailing ones (each matches an entry by its name
 * alone). Git (and the `ignore` package) trims only trailing spaces, so only spaces are dropped before the
 * trailing slashes: `foo/<TAB>` or `foo/<NBSP>` is a path rule, and taking it for a name rule once let the answer
 * cached for `a/<TAB>` show the ignored `foo/<TAB>`.
 */
export function byNameOnly(text: string): boolean {
  for (const line of text.split(/\r?\n/)) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    if (line.replace(/ +$/, '').replace(/\/+$/, '').includes('/')) return false;
  }
  return true;
}

function isIgnored(matchers: Matcher[], path: string, name: string, isDir: boolean): boolean {
  for (const m of matchers) {
    const key = isDir ? `${name}/` : name;
    let hit = m.byName?.get(key);
    if (hit === undefined) {
      const rel = m.base ? path.slice(m.base.length + 1) : path;
      hit = m.ig.ignores(isDir ? `${rel}/` : rel);
      m.byName?.set(key, hit);
    }
    if (hit) return true;
  }
  return false;
}
