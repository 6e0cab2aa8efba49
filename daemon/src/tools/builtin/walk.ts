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

const join = (dir: string, name: string): string => (dir ? `${dir}/${name}` : name);

/**
 * Walks the view depth-first in name order, honouring .gitignore files (the start directory's
 * ancestors' and every nested one) and never entering .git or symlinked directories (no loops).
 */
export async function* walk(view: WorkspaceView, start: string, o: WalkOptions = {}): AsyncGenerator<WalkEntry> {
  const matchers: Matcher[] = [];
  const parts = start ? start.split('/') : [];
  for (let i = 0; i < parts.length; i++) await loadIgnore(view, parts.slice(0, i).join('/'), matchers);
  yield* walkDir(view, start, 1, matchers, o);
}

async function* walkDir(
  view: WorkspaceView,
  dir: string,
  depth: number,
  inherited: Matcher[],
  o: WalkOptions,
): AsyncGenerator<WalkEntry> {
  if (o.signal?.aborted) return;
  const matchers = [...inherited];
  let entries;
  try {
    entries = await view.readdir(dir);
  } catch {
    return; // unreadable (or vanished) directories are skipped, not fatal
  }
  if (entries.some((e) => e.name === '.gitignore' && e.type !== 'dir')) await loadIgnore(view, dir, matchers);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    const ignored = e.name === '.git' || isIgnored(matchers, path, e.type === 'dir');
    yield { path, type: e.type, depth, ignored };
    if (e.type === 'dir' && !ignored && (o.maxDepth === undefined || depth < o.maxDepth))
      yield* walkDir(view, path, depth + 1, matchers, o);
  }
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
