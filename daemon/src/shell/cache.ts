import { lstat, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../state/index.js';

/** One path a run moved into the session's cache layer. */
export interface CacheMove {
  path: string;
  change: 'written' | 'deleted';
  /** Files (and links) it holds: 1 for a file, the count below for a folder, 0 for a deletion. */
  files: number;
}

/** What the cache layer holds, for review's count and `--include-ignored` (topmost paths only). */
export interface CacheSummary {
  paths: Record<string, { change: CacheMove['change']; files: number }>;
}

const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');

/** Files and links below an upper folder (what a moved folder holds). */
async function countFiles(abs: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(abs, { withFileTypes: true })) {
    if (e.isDirectory()) n += await countFiles(path.join(abs, e.name));
    else if (e.isFile() || e.isSymbolicLink()) n++;
  }
  return n;
}

/**
 * Why: build output (node_modules, dist, __pycache__, paths .gitignore names) a command writes stays
 * visible to the session's later commands — `npm install` then `npm test` — without entering review:
 * it moves from the run's upper folder into the cache folder, which every later run mounts as the top
 * lower layer. A rename per unit (same file system): a new `node_modules` of 50,000 files is one rename.
 * A whiteout moves too, so a deleted build folder stays deleted for later runs.
 */
export async function moveToCache(
  upper: string,
  cache: string,
  units: { rel: string; type: string }[],
): Promise<CacheMove[]> {
  const out: CacheMove[] = [];
  for (const u of units) {
    const from = path.join(upper, u.rel);
    const to = path.join(cache, u.rel);
    // Every folder on the way must be a folder in the cache (a whiteout or file there is replaced).
    const parts = parentOf(u.rel) === '' ? [] : parentOf(u.rel).split('/');
    for (let i = 1; i <= parts.length; i++) {
      const d = path.join(cache, ...parts.slice(0, i));
      const st = await lstat(d).catch(() => null);
      if (st && !st.isDirectory()) await rm(d, { force: true });
      if (!st?.isDirectory()) await mkdir(d);
    }
    const files = u.type === 'dir' ? await countFiles(from) : u.type === 'whiteout' ? 0 : 1;
    await rm(to, { recursive: true, force: true });
    await rename(from, to);
    out.push({ path: u.rel, change: u.type === 'whiteout' ? 'deleted' : 'written', files });
  }
  return out;
}

/** Reads the cache summary (empty when there is none). */
export async function readCacheSummary(file: string): Promise<CacheSummary> {
  try {
    const raw: unknown = JSON.parse(await readFile(file, 'utf8'));
    if (raw && typeof raw === 'object' && 'paths' in raw && raw.paths && typeof raw.paths === 'object')
      return { paths: raw.paths as CacheSummary['paths'] };
  } catch {
    // none yet, or unreadable: the cache itself is what matters; the summary starts again
  }
  return { paths: {} };
}

/** Records a run's moves: a path below a recorded folder adds to it; a folder replaces what was below it. */
export async function recordCacheMoves(file: string, moves: CacheMove[]): Promise<CacheSummary> {
  const s = await readCacheSummary(file);
  for (const m of moves) {
    let above: string | null = null;
    for (let a = parentOf(m.path); a !== ''; a = parentOf(a)) if (s.paths[a]) above = a;
    if (above !== null) {
      const rec = s.paths[above];
      s.paths[above] = { change: 'written', files: rec.files + m.files };
      continue;
    }
    for (const k of Object.keys(s.paths)) if (k.startsWith(`${m.path}/`)) delete s.paths[k];
    s.paths[m.path] = { change: m.change, files: m.files };
  }
  await writeFileAtomic(file, JSON.stringify(s));
  return s;
}
