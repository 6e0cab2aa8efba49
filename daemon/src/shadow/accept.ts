import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import { completeAccept, dropKept, roomToKeep, writtenBase } from './accept-after.js';
import { removeEmptyDirs, rollBack } from './accept-restore.js';
import { type Action, type Conflict, itemPath, type Op, plan, type Selected, targetBase } from './accept-plan.js';
import { typedFsError } from '../state/index.js';
import type { Logger } from '../state/index.js';
import type { Git } from './git.js';
import { type AcceptRecord, type Journal, type LayerSlice, newAcceptId } from './journal.js';
import type { LayerStore } from './layer.js';
import type { Base } from './layer-types.js';
import { lstatQuiet } from './real-fs.js';
import { type RealWriter, tempFor } from './real-writer.js';

export type { Selected } from './accept-plan.js';

export interface AcceptOutcome {
  acceptId: string | null;
  applied: { path: string; action: Action }[];
  conflicts: Conflict[];
  record: AcceptRecord | null;
  /**
   * Saves the layer and marks the journal `done`; run it after answering, under the session lock (see
   * completeAccept). Never throws.
   */
  complete: () => Promise<void>;
}

export interface AcceptDeps {
  store: LayerStore;
  journal: Journal;
  git: Git;
  /** A writer for the person's files (symlinks refused, `.git` and the state dir protected). */
  writer: () => RealWriter;
  /** Test seam: after each real path is changed (index from 0), before the next one. */
  onStep?: (index: number, path: string) => Promise<void> | void;
  logger?: Logger;
}

const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
const under = (p: string, dir: string) => p.startsWith(dir + '/');
/** Each path's first op (what `ops.find` by path gave, in one pass). */
const byPath = (ops: Op[]) => {
  const m = new Map<string, Op>();
  for (const o of ops) if (!m.has(itemPath(o.sel.item))) m.set(itemPath(o.sel.item), o);
  return m;
};
/**
 * The writer's file calls are synchronous (real-writer.ts): every 64 paths the event loop gets a turn,
 * so an accept of thousands of files never holds the daemon for long.
 */
const breathe = (i: number) => (i % 64 === 63 ? new Promise<void>((r) => setImmediate(r)) : undefined);

/**
 * The refusals an accept reports as they are; anything else becomes ShadowFailed write_failed, saying
 * whether the roll-back finished (when it did not, the journal still says `pending` and the next call on
 * the session, or the next open, finishes it).
 */
async function acceptError(e: unknown, store: LayerStore, rolledBack: boolean): Promise<unknown> {
  const typed = await typedFsError(e, store.root);
  if (
    isShadowboxError(typed, ErrorCodes.DiskFull) ||
    isShadowboxError(typed, ErrorCodes.PathProtected) ||
    isShadowboxError(typed, ErrorCodes.PathOutsideWorkspace) ||
    isShadowboxError(typed, ErrorCodes.ShadowFailed)
  )
    return typed;
  return new ShadowboxError(
    ErrorCodes.ShadowFailed,
    'write_failed',
    rolledBack
      ? `accept failed and was rolled back; nothing was changed (${(e as Error).message})`
      : `accept failed and its roll-back did not finish; the next use of this session finishes it (${(e as Error).message})`,
    {},
    { cause: e },
  );
}

/**
 * Why: writes accepted changes to the real files. The journal (`pending`: each path's before and
 * target state, the temps and the folders the accept will make) is on disk before anything in the
 * workspace changes; then a link or file the reviewed change removes below which it writes goes first,
 * as its own step; temps are staged beside their targets; renames and removals follow; then the layer.
 * Every real change goes through the writer: no symlink is followed, nothing outside the workspace,
 * inside `.git` or the state dir is touched. A failure rolls back what was written.
 */
export async function applyAccept(
  deps: AcceptDeps,
  selected: Selected[],
  force: boolean,
  by: string,
): Promise<AcceptOutcome> {
  const { store, journal } = deps;
  const { ops, conflicts } = await plan(store, deps.git, selected, force);
  if (ops.length === 0)
    return { acceptId: null, applied: [], conflicts, record: null, complete: () => Promise.resolve() };
  const id = newAcceptId();
  const touched = [
    ...new Set(ops.flatMap((o) => [itemPath(o.sel.item), ...(o.sel.item.oldPath ? [o.sel.item.oldPath] : [])])),
  ];
  const before: Record<string, Base> = {};
  for (const p of touched) before[p] = await store.captureBase(p);
  const made = ops
    .filter((o) => o.target.kind === 'write' || o.target.kind === 'mkdir')
    .map((o) => itemPath(o.sel.item));
  // Lookups by path and by op are sets and maps: an accept of thousands of files stays linear.
  const aboveMade = new Set(
    made.flatMap((p) =>
      p
        .split('/')
        .slice(0, -1)
        .map((_, i, a) => a.slice(0, i + 1).join('/')),
    ),
  );
  const first = ops.filter((o) => o.target.kind === 'delete' && aboveMade.has(itemPath(o.sel.item)));
  const dirs = await missingDirs(store, ops, new Set(first.map((o) => itemPath(o.sel.item))));
  for (const o of ops)
    if (o.target.kind === 'write') o.tmp = tempFor(itemPath(o.sel.item), randomBytes(6).toString('hex'));
  const dirSet = new Set(dirs);
  const opAt = byPath(ops);
  const targetOf = (p: string): Base => {
    if (dirSet.has(p)) return { type: 'dir' };
    const o = opAt.get(p);
    return o ? targetBase(o.target) : { type: 'none' };
  };
  // A temp for each path a roll-back would put back as a file or link, journaled with `pending`: a roll-back
  // in this call then needs no journal write of its own (the state disk may be the one that is full).
  const restoreTemps: Record<string, string> = {};
  for (const p of touched)
    if (before[p].type === 'file' || before[p].type === 'symlink')
      restoreTemps[p] = tempFor(p, randomBytes(6).toString('hex'));
  const record: AcceptRecord = {
    id,
    state: 'pending',
    time: new Date().toISOString(),
    by,
    force,
    temps: [...ops.flatMap((o) => (o.tmp ? [o.tmp] : [])), ...Object.values(restoreTemps)],
    restoreTemps,
    files: touched.map((p) => ({ path: p, action: '', before: before[p], target: targetOf(p) })),
    dirs,
  };
  await journal.write(record);
  const journaled = new Set(record.temps);
  const w = deps.writer();
  /**
   * Puts back what this accept changed (real files through the writer, the layer in memory) and returns the
   * error to throw. A journal write that fails while every temp the roll-back makes is already named by the
   * `pending` record on disk does not stop it: the person's files are back as they were either way, and a
   * crash before the record is removed rolls back (again, without a change) at the next open.
   */
  const abandon = async (e: unknown, layer?: LayerSlice): Promise<unknown> => {
    // The replaced files' second names go first: on a nearly full disk the roll-back needs the room they hold.
    dropKept(ops, deps.logger);
    if (layer) restoreSlice(store, layer);
    record.state = 'pending';
    let rolledBack = false;
    try {
      const r = await rollBack(store, w, record, async () => {
        try {
          await journal.write(record);
        } catch (je) {
          if (!record.temps.every((t) => journaled.has(t))) throw je;
        }
      });
      // A path that could not be put back (not the person's edit) leaves the journal `pending` on disk.
      if (r.failed.length > 0) throw new Error(`cannot put back ${r.failed.join(', ')}`);
      rolledBack = true;
      record.state = 'rolled_back';
      await journal.remove(id);
    } catch (re) {
      // The journal stays `pending`: the next use of the session (or its next open) finishes the roll-back.
      if (!rolledBack)
        deps.logger?.warn(
          `shadow: accept ${id} failed and its roll-back did not finish (${String(re)}); it will be finished`,
        );
    }
    return acceptError(e, store, rolledBack);
  };
  try {
    let step = 0;
    for (const o of first) {
      await w.unlink(itemPath(o.sel.item));
      await deps.onStep?.(step++, itemPath(o.sel.item));
    }
    for (const [i, o] of ops.entries()) {
      if (o.target.kind === 'write')
        o.staged = await w.stage(o.tmp!, itemPath(o.sel.item), o.target.source, o.target.mode, dirSet);
      await breathe(i);
    }
    // A file (or link) that replaces a real folder is renamed in last, once the folder is emptied by the
    // deletions of this accept and removed (a sandboxed `rm -rf out && touch out`).
    const overDirs = new Set(
      ops.filter((o) => o.target.kind === 'write' && before[itemPath(o.sel.item)]?.type === 'dir'),
    );
    const firstSet = new Set(first);
    const keeping = roomToKeep(store, touched, before);
    for (const o of [...ops.filter((x) => !overDirs.has(x)), ...overDirs]) {
      if (firstSet.has(o)) continue;
      const p = itemPath(o.sel.item);
      if (overDirs.has(o)) await removeEmptiedDir(store, w, p);
      if (o.target.kind === 'write') {
        // A file this write replaces keeps a second name in the state dir until after the answer.
        if (keeping && before[p]?.type === 'file') o.kept = (await w.keep(p)) ?? undefined;
        await w.commit(o.tmp!, p);
      } else if (o.target.kind === 'delete') await w.unlink(p);
      else if (o.target.kind === 'mkdir') await w.mkdir(p, dirSet);
      else await w.rmdir(p).catch(() => undefined);
      if (o.sel.item.oldPath) await w.unlink(o.sel.item.oldPath);
      await deps.onStep?.(step++, p);
      await breathe(step);
    }
    return await finish(deps, record, ops, touched, conflicts, w, abandon);
  } catch (e) {
    if (e instanceof Abandoned) throw e.error;
    throw await abandon(e);
  } finally {
    await w.close();
  }
}

/** An accept already rolled back by `finish`: its error, to throw as it is. */
class Abandoned extends Error {
  constructor(readonly error: unknown) {
    super('accept rolled back');
  }
}

/**
 * Removes the real folder `dir` and the folders below it once this accept's deletions emptied them
 * (never through a link: the writer opens each folder itself); a file still there — not part of the
 * accept, or put there by the person — fails the accept (rolled back), naming the folder.
 */
async function removeEmptiedDir(store: LayerStore, w: RealWriter, dir: string): Promise<void> {
  const below: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await store.real.readdir(d).catch(() => null)) ?? []) {
      const c = `${d}/${e.name}`;
      if (e.isDirectory()) {
        below.push(c);
        await walk(c);
      }
    }
  };
  await walk(dir);
  await removeEmptyDirs(w, below);
  try {
    await w.rmdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    throw new ShadowboxError(
      ErrorCodes.ShadowFailed,
      'directory_not_empty',
      `cannot replace the folder ${dir} with a file: it still holds files that are not part of this accept (accept the deletions below it too)`,
      { path: dir },
      { cause: e },
    );
  }
}

/** After the real files: the layer follows, the journal records `applied` (`done` comes with `complete`, after the answer). */
async function finish(
  deps: AcceptDeps,
  record: AcceptRecord,
  ops: Op[],
  touched: string[],
  conflicts: Conflict[],
  w: RealWriter,
  abandon: (e: unknown, layer: LayerSlice) => Promise<unknown>,
): Promise<AcceptOutcome> {
  const { store, journal } = deps;
  const newDirs = Object.keys(store.m.entries).filter((k) => {
    const e = store.m.entries[k];
    return e.kind === 'dir' && e.base.type === 'none' && !e.opaque;
  });
  const layerBefore = sliceOf(store, [...touched, ...newDirs]);
  // Until `applied` is on disk the accept has not happened: a failure (a full state disk while the layer's
  // objects or the grown record are written) puts the real files and the layer back, and the accept fails.
  try {
    await toApplied(deps, record, ops, touched, newDirs, layerBefore, w);
  } catch (e) {
    // The `applied` record renamed into place, then its folder's fsync failed: on disk the accept has
    // happened (recovery completes it), so it stands — rolling back now would leave a crash during the
    // roll-back with a record that says `applied` over files that are half put back.
    const onDisk = record.state === 'applied' ? await journal.read(record.id).catch(() => null) : null;
    if (onDisk?.state !== 'applied') throw new Abandoned(await abandon(e, layerBefore));
    deps.logger?.warn(
      `shadow: accept ${record.id}: its applied record is on disk, though writing it failed (${String(e)})`,
    );
  }
  store.m.accepts.push(record.id);
  return {
    acceptId: record.id,
    applied: ops.map((o) => ({ path: o.sel.item.path, action: o.action })),
    conflicts,
    record,
    complete: () => completeAccept(deps, record, ops),
  };
}

/** The layer follows the real files, then the journal records `applied` (the accept has happened once that is on disk). */
async function toApplied(
  deps: AcceptDeps,
  record: AcceptRecord,
  ops: Op[],
  touched: string[],
  newDirs: string[],
  layerBefore: LayerSlice,
  w: RealWriter,
): Promise<void> {
  const { store, journal } = deps;
  await updateLayer(deps, ops);
  // A directory the agent created and the accept made real needs no layer entry any more.
  for (const d of [...newDirs, ...touched]) {
    const e = store.m.entries[d];
    if (e?.kind === 'dir' && e.base.type === 'none' && !e.opaque && store.real.lstatSync(d)?.isDirectory())
      delete store.m.entries[d];
  }
  // What a roll-back (or undo) puts back: each removed folder, and its pending removal in the layer —
  // recorded as each goes, so a failure part-way still puts back the ones already removed.
  const removedDirs = await pruneDeletedDirs(store, w, touched, (d) => {
    layerBefore.entries[d.path] = { kind: 'deleted', base: { type: 'dir' } };
    record.files.push({ ...d, action: 'deleted', target: { type: 'none' } });
  });
  const all = [...touched, ...removedDirs.map((d) => d.path)];
  const opAt = byPath(ops);
  for (const f of record.files) f.after = writtenBase(opAt.get(f.path)) ?? (await store.captureBase(f.path));
  for (const f of record.files)
    f.action = opAt.get(f.path)?.action ?? (f.after?.type === 'none' ? 'deleted' : 'written');
  const fileAt = new Map(record.files.map((f) => [f.path, f]));
  for (const p of touched) store.m.known[p] = fileAt.get(p)!.after!;
  record.layerBefore = layerBefore;
  record.layerAfter = sliceOf(store, [...all, ...newDirs]);
  record.state = 'applied';
  await journal.write(record);
}

/** The layer's state of some paths, for the journal: copies, since the layer changes its entries in place afterwards. */
export function sliceOf(store: LayerStore, paths: string[]): LayerSlice {
  const s: LayerSlice = { entries: {}, known: {} };
  for (const p of paths) {
    s.entries[p] = structuredClone(store.m.entries[p] ?? null);
    s.known[p] = structuredClone(store.m.known[p] ?? null);
  }
  return s;
}

/**
 * Directories an accept will create (missing parents of written files, new directories), shallow first.
 * A link or file the accept removes first counts as missing; any other link on the way stops the walk
 * (the writer then refuses the write, naming it).
 */
async function missingDirs(store: LayerStore, ops: Op[], removedFirst: Set<string>): Promise<string[]> {
  const out = new Set<string>();
  const present = new Set<string>();
  for (const o of ops) {
    if (o.target.kind !== 'write' && o.target.kind !== 'mkdir') continue;
    const p = itemPath(o.sel.item);
    for (let d = o.target.kind === 'mkdir' ? p : parentOf(p); d !== '' && !out.has(d); d = parentOf(d)) {
      // A plain lstat decides only what to journal as "made by this accept": the writer opens every folder itself.
      if (present.has(d)) break;
      // At or below a link (or file) the accept removes first, nothing exists yet (a lstat would follow the link).
      const gone = [...removedFirst].some((r) => d === r || d.startsWith(r + '/'));
      if (!gone && lstatQuiet(store.real.abs(d))) {
        present.add(d);
        break;
      }
      out.add(d);
    }
  }
  return [...out].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
}

/** Puts a journaled slice back into the layer. */
export function restoreSlice(store: LayerStore, s: LayerSlice): void {
  for (const [p, e] of Object.entries(s.entries)) {
    if (e) store.m.entries[p] = e;
    else delete store.m.entries[p];
    store.markDirty(p, 'review');
  }
  for (const [p, k] of Object.entries(s.known)) {
    if (k) store.m.known[p] = k;
    else delete store.m.known[p];
  }
}

async function updateLayer(deps: AcceptDeps, ops: Op[]): Promise<void> {
  const { store } = deps;
  for (const o of ops) {
    const it = o.sel.item;
    const p = itemPath(it);
    store.markDirty(p, 'review');
    if (it.replaced) {
      // The link (or file) the agent replaced with a folder is gone; the folder itself is now plainly new.
      store.m.entries[p] = { kind: 'dir', base: { type: 'none' }, opaque: false };
      continue;
    }
    if (o.sel.hunks === null || it.change === 'deleted' || it.dir) {
      delete store.m.entries[p];
      if (it.oldPath) {
        delete store.m.entries[it.oldPath];
        store.markDirty(it.oldPath, 'review');
      }
      continue;
    }
    const e = store.m.entries[p];
    if (!e || e.kind !== 'file') continue;
    const newBase = await store.captureBase(p);
    let next = { ...e, base: newBase };
    if (o.merged && o.partial !== undefined && newBase.type === 'file') {
      // Rebase the rest of the agent's edit onto what was written (the person's edits included).
      const shadowText = (await store.readObject(e.oid)).toString('utf8');
      const written = (await store.readObject(newBase.oid)).toString('utf8');
      const tmpBase = await store.putBytes(Buffer.from(o.partial));
      const tmpOurs = path.join(store.dir, `rebase-${randomBytes(4).toString('hex')}.tmp`);
      await writeFile(tmpOurs, written);
      const r = await deps
        .git(['merge-file', '-p', tmpOurs, await store.objectFile(tmpBase), await store.objectFile(e.oid)], {
          okCodes: Array.from({ length: 127 }, (_, i) => i + 1),
        })
        .finally(() => rm(tmpOurs, { force: true }));
      if (r.exitCode === 0 && r.stdout !== shadowText)
        next = { ...next, oid: await store.putBytes(Buffer.from(r.stdout)), size: Buffer.byteLength(r.stdout) };
    }
    if (newBase.type === 'file' && newBase.oid === next.oid && newBase.mode === next.mode) delete store.m.entries[p];
    else store.m.entries[p] = next;
  }
}

/** Removes real directories the layer deleted once nothing of theirs is pending any more. */
async function pruneDeletedDirs(
  store: LayerStore,
  w: RealWriter,
  touched: string[],
  onRemoved: (d: { path: string; before: Base; after: Base }) => void,
): Promise<{ path: string; before: Base; after: Base }[]> {
  const out: { path: string; before: Base; after: Base }[] = [];
  const entries = store.m.entries;
  const dirs = Object.keys(entries)
    .filter((k) => entries[k].kind === 'deleted' && entries[k].base.type === 'dir' && touched.some((t) => under(t, k)))
    .sort((a, b) => b.length - a.length);
  for (const d of dirs) {
    if (Object.keys(entries).some((k) => under(k, d))) continue;
    const [removed] = await removeEmptyDirs(w, [d]);
    // The person put something there: it stays, and so does the pending removal.
    if (removed === undefined && (await store.real.lstat(d))) continue;
    delete entries[d];
    const removedDir = { path: d, before: { type: 'dir' } as Base, after: { type: 'none' } as Base };
    out.push(removedDir);
    onRemoved(removedDir);
  }
  return out;
}
