import { randomBytes } from 'node:crypto';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import type { AcceptRecord } from './journal.js';
import type { LayerStore } from './layer.js';
import type { Base } from './layer-types.js';
import { type RealWriter, type Source, tempFor } from './real-writer.js';

/** One real path to put back to `to`. */
export interface Restore {
  path: string;
  to: Base;
}

/** What a restore did: paths put back, and paths left as they are (with why). */
export interface RestoreOutcome {
  restored: string[];
  kept: { path: string; reason: string }[];
  /** Directories the accept had created that were removed (they were empty). */
  removedDirs: string[];
}

const depth = (p: string) => p.split('/').length;
/** Errors that say "try again later", not "this path cannot be restored": the journal stays unfinished for the next open. */
const transient = (e: unknown) =>
  isShadowboxError(e, ErrorCodes.DiskFull) || (e as NodeJS.ErrnoException).code === 'EIO';

/** Removes directories an accept created, deepest first, each only if it is empty (the person's files keep theirs). */
export async function removeEmptyDirs(w: RealWriter, dirs: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const d of [...dirs].sort((a, b) => depth(b) - depth(a))) {
    try {
      await w.rmdir(d);
      removed.push(d);
    } catch (e) {
      if (transient(e)) throw e;
      // ENOTEMPTY (the person put something there), gone already, or no longer a plain directory: it stays.
    }
  }
  return removed;
}

/** Temp files a journal names (workspace-relative; absolute ones from older journals are never touched). */
export async function removeTemps(w: RealWriter, temps: string[]): Promise<void> {
  for (const t of temps) if (!t.startsWith('/')) await w.removeTemp(t);
}

/**
 * Why: undo, a failed accept and crash recovery all put real paths back to journaled bytes, through
 * the symlink-refusing writer. Order: the journal's leftover temps go, paths that were absent are
 * removed (deepest first), the directories the accept created are removed when empty, then files,
 * links and folders come back (shallow first) — each file or link through a temp that is written
 * into the journal (`persist`) before it exists. A path that cannot be put back (the person put a
 * folder with files where a link was) is kept and reported; a full disk is thrown (retried later).
 */
export async function restorePaths(
  store: LayerStore,
  w: RealWriter,
  record: AcceptRecord,
  items: Restore[],
  persist: () => Promise<void>,
): Promise<RestoreOutcome> {
  const out: RestoreOutcome = { restored: [], kept: [], removedDirs: [] };
  const gone = items.filter((i) => i.to.type === 'none').sort((a, b) => depth(b.path) - depth(a.path));
  const back = items.filter((i) => i.to.type !== 'none').sort((a, b) => depth(a.path) - depth(b.path));
  const temps = new Map<string, string>();
  for (const i of back)
    if (i.to.type === 'file' || i.to.type === 'symlink')
      temps.set(i.path, record.restoreTemps?.[i.path] ?? tempFor(i.path, randomBytes(6).toString('hex')));
  await removeTemps(w, record.temps);
  // The journal (its state, and the temps about to exist) is on disk before any path changes.
  record.temps = [...new Set([...record.temps, ...temps.values()])];
  await persist();
  const attempt = async (p: string, fn: () => Promise<void>) => {
    try {
      await fn();
      out.restored.push(p);
    } catch (e) {
      if (transient(e)) throw e;
      out.kept.push({ path: p, reason: e instanceof Error ? e.message : String(e) });
    }
  };
  for (const i of gone)
    await attempt(i.path, async () => {
      const st = await store.real.lstat(i.path);
      if (st?.isDirectory()) await w.rmdir(i.path);
      else if (st) await w.unlink(i.path);
    });
  out.removedDirs = await removeEmptyDirs(w, record.dirs ?? []);
  for (const i of back)
    await attempt(i.path, async () => {
      const b = i.to;
      const now = await store.real.lstat(i.path);
      // A folder comes back where a file (or link) replaced it; a file where a (now emptied) folder was.
      if (b.type === 'dir') {
        if (now && !now.isDirectory()) await w.unlink(i.path);
        return w.mkdir(i.path, 'any');
      }
      if (b.type !== 'file' && b.type !== 'symlink') return;
      if (now?.isDirectory()) await w.rmdir(i.path);
      const source: Source =
        b.type === 'symlink'
          ? { link: (await store.readObject(b.oid)).toString('utf8') }
          : await store.objectSource(b.oid);
      const tmp = temps.get(i.path)!;
      await w.stage(tmp, i.path, source, b.mode, 'any');
      try {
        await w.commit(tmp, i.path);
      } catch (e) {
        await w.removeTemp(tmp);
        throw e;
      }
    });
  return out;
}

/**
 * Rolls back an accept that did not finish (it failed, or a crash interrupted it): a path is put back
 * only when it still holds exactly what the accept wrote there (`target`); one that holds its old
 * bytes needs nothing; anything else is the person's own edit since, and is kept and reported — a
 * roll-back never overwrites it. Temps and created directories go. `failed`: the paths of `conflicts`
 * that were to be put back but could not be (a failed write, not the person's edit).
 */
export async function rollBack(
  store: LayerStore,
  w: RealWriter,
  record: AcceptRecord,
  persist: () => Promise<void>,
): Promise<{ restored: string[]; conflicts: string[]; failed: string[] }> {
  const items: Restore[] = [];
  const conflicts: string[] = [];
  for (const f of record.files) {
    if (await store.realMatches(f.path, f.before)) continue;
    if (f.target && (await store.realMatches(f.path, f.target))) items.push({ path: f.path, to: f.before });
    else conflicts.push(f.path);
  }
  const r = await restorePaths(store, w, record, items, persist);
  await removeTemps(w, record.temps);
  const failed = r.kept.map((k) => k.path);
  return { restored: r.restored, conflicts: [...conflicts, ...failed], failed };
}
