import { createHash } from 'node:crypto';
import { lstat, readFile } from 'node:fs/promises';
import path from 'node:path';
import { isShadowboxError } from '../errors.js';
import type { EntryType, WorkspaceView } from '../shadow/index.js';
import { type CacheMove, moveToCache } from './cache.js';
import { type IgnoreRules, trackedOf } from './ignored.js';
import { listUpper, opaqueDirs, upperDirs, type UpperEntry } from './upper.js';

/** Files a command writes above this size are not taken into review (they stay visible to nothing). */
export const MAX_REVIEW_FILE_BYTES = 64 * 1024 * 1024;

/** What one run changed. */
export interface ApplyResult {
  /** Workspace paths whose change is now pending review (the shadow layer). */
  changed: string[];
  /** Changes the view refused (protected or denied paths, a `.git` write): path and reason. */
  refused: { path: string; reason: string }[];
  /** Build output moved to the session's cache layer (not reviewed). */
  ignored: CacheMove[];
  /** Renames recognised (a deletion and an addition of the same bytes). */
  renamed: { from: string; to: string }[];
}

type Unit = { rel: string; e: UpperEntry; opaque: boolean };
const join = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);
const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');

/** Types in the session's view without following links, from the parent folder's listing (cached per folder). */
function viewTypes(view: WorkspaceView) {
  const listings = new Map<string, Promise<Map<string, EntryType> | null>>();
  return (rel: string): Promise<EntryType | null> => {
    const dir = parentOf(rel);
    let l = listings.get(dir);
    if (!l) {
      l = view.readdir(dir).then(
        (es) => new Map(es.map((e) => [e.name, e.type])),
        () => null,
      );
      listings.set(dir, l);
    }
    return l.then((m) => m?.get(rel.slice(rel.lastIndexOf('/') + 1)) ?? null);
  };
}

/**
 * Why: when a command ends, what it wrote (the overlay's upper folder) becomes shadow changes like any
 * `write_file`: writes, deletions (whiteouts), new folders, folders replaced whole (opaque), mode
 * changes, links — and a deletion plus an addition of the same bytes as a rename. Build output (ignored
 * paths, not tracked) moves to the session's cache layer instead. Everything goes through the call's
 * view, so protected and denied paths are refused exactly as for the file tools (reported, not applied).
 * The upper folder is the command's: it is only ever lstat'ed and read, never followed. O(what it wrote).
 */
export async function applyUpper(o: {
  upper: string;
  cache: string;
  view: WorkspaceView;
  rules: IgnoreRules;
  git: string | null;
  getfattr: string;
}): Promise<ApplyResult> {
  const { upper, view } = o;
  const out: ApplyResult = { changed: [], refused: [], ignored: [], renamed: [] };
  const opaque = await opaqueDirs(o.getfattr, upper, await upperDirs(upper));
  const typeOf = viewTypes(view);
  const inCache = async (rel: string) =>
    (await lstat(path.join(o.cache, rel)).catch(() => null))?.isDirectory() ?? false;
  const review: Unit[] = [];
  const cached: Unit[] = [];

  // Top-down: a folder that is build output and new (or replaced whole) moves as one unit.
  const walk = async (dir: string, ignoredAbove: boolean): Promise<void> => {
    for (const e of await listUpper(upper, dir)) {
      const rel = join(dir, e.name);
      const isOpaque = e.type === 'dir' && opaque.has(rel);
      const viewType = await typeOf(rel);
      const ignored =
        ignoredAbove || (await o.rules.ignores(rel, e.type === 'dir' || (e.type === 'whiteout' && viewType === 'dir')));
      const unit = { rel, e, opaque: isOpaque };
      if (e.type !== 'dir') (ignored ? cached : review).push(unit);
      else if (!ignored) {
        review.push(unit);
        await walk(rel, false);
      } else if (isOpaque || (viewType === null && !(await inCache(rel)))) cached.push(unit);
      else await walk(rel, true);
    }
  };
  await walk('', false);

  // A tracked file (or a folder holding one) is reviewed even where the ignore rules match it.
  const existed = (await Promise.all(cached.map(async (u) => ((await typeOf(u.rel)) !== null ? u.rel : null)))).filter(
    (r): r is string => r !== null,
  );
  const tracked = await trackedOf(o.git, view.root, existed);
  for (const u of cached.filter((x) => tracked.has(x.rel))) {
    cached.splice(cached.indexOf(u), 1);
    review.push(u);
    if (u.e.type === 'dir') {
      const sub: Unit[] = [];
      const walkAll = async (dir: string) => {
        for (const e of await listUpper(upper, dir)) {
          const rel = join(dir, e.name);
          sub.push({ rel, e, opaque: e.type === 'dir' && opaque.has(rel) });
          if (e.type === 'dir') await walkAll(rel);
        }
      };
      await walkAll(u.rel);
      review.push(...sub);
    }
  }
  review.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));

  const refuse = (rel: string, e: unknown) =>
    out.refused.push({ path: rel, reason: isShadowboxError(e) ? String(e.reason) : (e as Error).message });
  const done = new Set<string>();
  await detectRenames(o, review, typeOf, out, done, refuse);
  for (const u of review) {
    if (done.has(u.rel)) continue;
    try {
      if (await applyUnit(o, u, await typeOf(u.rel))) out.changed.push(u.rel);
    } catch (e) {
      refuse(u.rel, e);
    }
  }
  out.ignored = await moveToCache(
    upper,
    o.cache,
    cached.map((u) => ({ rel: u.rel, type: u.e.type })),
  );
  return out;
}

/** Applies one reviewed unit through the view; false when it changed nothing (a file copied up unchanged). */
async function applyUnit(o: { upper: string; view: WorkspaceView }, u: Unit, now: EntryType | null): Promise<boolean> {
  const { view } = o;
  const abs = path.join(o.upper, u.rel);
  switch (u.e.type) {
    case 'whiteout':
      if (now === null) return false;
      try {
        await view.remove(u.rel);
      } catch (e) {
        // Gone already (inside a folder this run replaced whole).
        if (isShadowboxError(e) && e.reason === 'not_found') return false;
        throw e;
      }
      return true;
    case 'dir':
      if (u.opaque && now !== null) await view.remove(u.rel);
      else if (now === 'dir') return false;
      else if (now !== null) await view.remove(u.rel);
      await view.mkdir(u.rel);
      return true;
    case 'symlink':
      if (now !== null) await view.remove(u.rel);
      await view.symlink(u.rel, u.e.target);
      return true;
    case 'file': {
      if (u.e.size > MAX_REVIEW_FILE_BYTES)
        throw new Error(`too large to review (${u.e.size} bytes; at most ${MAX_REVIEW_FILE_BYTES})`);
      const bytes = await readFile(abs, { flag: 'r' });
      if (now === 'file') {
        const st = await view.stat(u.rel);
        if (st && st.size === bytes.byteLength && st.mode === u.e.mode) {
          const old = await view.readFile(u.rel);
          if (Buffer.compare(Buffer.from(old), bytes) === 0) return false;
        }
      } else if (now !== null) await view.remove(u.rel);
      await view.writeFile(u.rel, bytes, { mode: u.e.mode & 0o777 });
      return true;
    }
    default:
      throw new Error('not a file, folder or link (a fifo, socket or device): not taken');
  }
}

const sha1 = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');

/**
 * overlayfs has no renames here (`mv` copies, then removes): a removed file and a new file with the same
 * bytes are applied as a move, so review shows `renamed` (and accept moves it). Only direct file deletions
 * are paired; each new file's bytes are hashed only when a removed file has its size.
 */
async function detectRenames(
  o: { upper: string; view: WorkspaceView },
  review: Unit[],
  typeOf: (rel: string) => Promise<EntryType | null>,
  out: ApplyResult,
  done: Set<string>,
  refuse: (rel: string, e: unknown) => void,
): Promise<void> {
  const gone: { rel: string; size: number }[] = [];
  for (const u of review.slice(0, 5000))
    if (u.e.type === 'whiteout' && (await typeOf(u.rel)) === 'file') {
      const st = await o.view.stat(u.rel);
      if (st) gone.push({ rel: u.rel, size: st.size });
    }
  if (gone.length === 0) return;
  const sizes = new Map<number, string[]>();
  for (const g of gone) sizes.set(g.size, [...(sizes.get(g.size) ?? []), g.rel]);
  const hashes = new Map<string, string>();
  for (const u of review) {
    if (u.e.type !== 'file' || !sizes.has(u.e.size) || (await typeOf(u.rel)) !== null) continue;
    const mine = sha1(await readFile(path.join(o.upper, u.rel)));
    for (const from of sizes.get(u.e.size) ?? []) {
      if (done.has(from)) continue;
      let h = hashes.get(from);
      if (h === undefined) hashes.set(from, (h = sha1(await o.view.readFile(from))));
      if (h !== mine) continue;
      try {
        await o.view.rename(from, u.rel);
        const st = await o.view.stat(u.rel);
        if (st && st.mode !== (u.e.mode & 0o777))
          await o.view.writeFile(u.rel, await o.view.readFile(u.rel), { mode: u.e.mode & 0o777 });
        out.renamed.push({ from, to: u.rel });
        out.changed.push(from, u.rel);
        done.add(from).add(u.rel);
      } catch (e) {
        refuse(u.rel, e);
      }
      break;
    }
  }
}
