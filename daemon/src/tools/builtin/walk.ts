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
}

interface Matcher {
  base: string;
  ig: Ignore;
}

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
 * One generator, an explicit stack, and the listings of the next folders read ahead (a folder's
 * readdir costs a resolve of its path; done one after the other, a 20,000-file tree waited ~4× longer).
 */
export async function* walk(view: WorkspaceView, start: string, o: WalkOptions = {}): AsyncGenerator<WalkEntry> {
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
  while (stack.length > 0) {
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
    const e = entries[top.next++];
    yield e;
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
    return { path, type: e.type, depth, ignored: e.name === '.git' || isIgnored(matchers, path, e.type === 'dir') };
  });
  return { entries, matchers };
}

async function loadIgnore(view: WorkspaceView, dir: string, into: Matcher[]): Promise<void> {
  try {
    const text = Buffer.from(await view.readFile(join(dir, '.gitignore'))).toString('utf8');
    into.push({ base: dir, ig: ignore().add(text) });
  } catch {
    // no .gitignore there
  }
}

function isIgnored(matchers: Matcher[], path: string, isDir: boolean): boolean {
  for (const m of matchers) {
    const rel = m.base ? path.slice(m.base.length + 1) : path;
    if (m.ig.ignores(isDir ? `${rel}/` : rel)) return true;
  }
  return false;
}
