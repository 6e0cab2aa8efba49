import { lstat, mkdir, readFile, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { commitStaged, removeQuietly, removeReal, type Source, stageFile } from './atomic.js';
import type { ItemDiff, ReviewItem } from './changes.js';
import { applyHunks, type HunkInfo, looksBinary, MAX_DIFF_BYTES } from './diff.js';
import type { Git } from './git.js';
import { type AcceptRecord, type Journal, type LayerSlice, newAcceptId } from './journal.js';
import type { Base, LayerStore } from './layer.js';

/** One review item chosen for accept: the whole file (hunks null) or some of its hunks. */
export interface Selected {
  item: ReviewItem;
  /** Computed on demand (whole-file accepts of fresh files never need it). */
  diff: () => Promise<ItemDiff>;
  hunks: HunkInfo[] | null;
  /** The hunk ids the person named (also when they were all of the file's hunks and `hunks` is null). */
  named?: string[];
  /** Of hunks narrowed to some lines ("path#id:LINES"), the lines not selected, as hunks (what reject keeps). */
  rest?: HunkInfo[];
}

type Action = 'written' | 'deleted' | 'merged' | 'renamed' | 'mode';
type Target =
  { kind: 'write'; source: Source; mode: number } | { kind: 'delete' } | { kind: 'mkdir' } | { kind: 'rmdir' };
interface Op {
  sel: Selected;
  target: Target;
  action: Action;
  /** Text written when only some hunks were taken (the new base of the remaining ones). */
  partial?: string;
  merged?: boolean;
  tmp?: string;
}

export interface AcceptOutcome {
  acceptId: string | null;
  applied: { path: string; action: Action }[];
  conflicts: { path: string; hunks: string[]; conflictText: string }[];
  record: AcceptRecord | null;
}

export interface AcceptDeps {
  store: LayerStore;
  journal: Journal;
  git: Git;
  /** Test seam: after each real path is changed (index from 0), before the next one. */
  onStep?: (index: number, path: string) => Promise<void> | void;
}

const itemPath = (i: ReviewItem) => (i.dir ? i.path.slice(0, -1) : i.path);

/** Three-way merge with `git merge-file`: real (ours) ← base → agent (theirs). */
async function mergeFile(
  deps: AcceptDeps,
  realAbs: string,
  baseOid: string,
  theirs: string,
): Promise<{ clean: boolean; text: string }> {
  const tmp = path.join(deps.store.dir, `merge-${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, theirs);
  try {
    const r = await deps.git(
      [
        'merge-file',
        '-p',
        '-L',
        'yours',
        '-L',
        'base',
        '-L',
        'agent',
        realAbs,
        await deps.store.objectFile(baseOid),
        tmp,
      ],
      { okCodes: Array.from({ length: 127 }, (_, i) => i + 1) },
    );
    return { clean: r.exitCode === 0, text: r.stdout };
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The real file as text when it can take part in a merge, else null. */
async function realText(abs: string): Promise<string | null> {
  try {
    const st = await lstat(abs);
    if (!st.isFile() || st.size > MAX_DIFF_BYTES) return null;
    const buf = await readFile(abs);
    return looksBinary(buf) ? null : buf.toString('utf8');
  } catch {
    return null;
  }
}

/** Decides what each selected item writes, merging where the person changed the file since its base. */
async function plan(
  deps: AcceptDeps,
  selected: Selected[],
  force: boolean,
): Promise<{ ops: Op[]; conflicts: AcceptOutcome['conflicts'] }> {
  const { store } = deps;
  const ops: Op[] = [];
  const conflicts: AcceptOutcome['conflicts'] = [];
  for (const sel of selected) {
    const it = sel.item;
    let target: Target;
    let partial: string | undefined;
    let theirsText: string | null = null;
    if (it.dir) target = { kind: it.change === 'added' ? 'mkdir' : 'rmdir' };
    else if (sel.hunks === null || it.change === 'deleted') {
      target = it.next
        ? { kind: 'write', source: await store.objectSource(it.next.oid), mode: it.next.mode }
        : { kind: 'delete' };
    } else {
      partial = applyHunks((await sel.diff()).oldText ?? '', sel.hunks) ?? undefined;
      if (partial === undefined)
        throw new ShadowboxError(
          ErrorCodes.HunkNotFound,
          'hunk_does_not_apply',
          `hunks of ${it.path} no longer apply`,
          { path: it.path },
        );
      theirsText = partial;
      const mode = it.old.type === 'file' ? it.old.mode : (it.next?.mode ?? 0o644);
      target = { kind: 'write', source: { bytes: Buffer.from(partial) }, mode };
    }
    const action: Action =
      it.change === 'deleted'
        ? 'deleted'
        : it.change === 'renamed'
          ? 'renamed'
          : it.old.type === 'file' && it.next && it.old.oid === it.next.oid
            ? 'mode'
            : 'written';
    const fresh =
      (await store.realMatches(itemPath(it), it.targetBase)) &&
      (it.oldPath === undefined || (await store.realMatches(it.oldPath, it.old)));
    if (fresh) {
      ops.push({ sel, target, action, ...(partial !== undefined ? { partial } : {}) });
      continue;
    }
    const d = await sel.diff();
    theirsText ??= d.newText;
    const hunkIds = (sel.hunks ?? d.hunks).map((h) => h.id);
    const abs = path.join(store.root, it.path);
    const ours =
      it.change === 'modified' && target.kind === 'write' && theirsText !== null && it.old.type === 'file'
        ? await realText(abs)
        : null;
    if (ours !== null && it.old.type === 'file') {
      const m = await mergeFile(deps, abs, it.old.oid, theirsText!);
      if (m.clean) {
        ops.push({
          sel,
          target: { kind: 'write', source: { bytes: Buffer.from(m.text) }, mode: (target as { mode: number }).mode },
          action: 'merged',
          merged: true,
          ...(partial !== undefined ? { partial } : {}),
        });
        continue;
      }
      conflicts.push({ path: it.path, hunks: hunkIds, conflictText: m.text });
    } else {
      const why =
        it.change === 'renamed'
          ? 'the source or target of the move changed since the agent read it'
          : `the real ${it.dir ? 'directory' : 'file'} changed since the agent based its edit on it and cannot be merged`;
      conflicts.push({ path: it.path, hunks: hunkIds, conflictText: `conflict: ${why}\n` });
    }
    if (force) ops.push({ sel, target, action, ...(partial !== undefined ? { partial } : {}) });
  }
  return { ops, conflicts };
}

/** Why: writes accepted changes to the real files — staged temps, a journal, renames — then updates the layer. */
export async function applyAccept(
  deps: AcceptDeps,
  selected: Selected[],
  force: boolean,
  by: string,
): Promise<AcceptOutcome> {
  const { store, journal } = deps;
  const { ops, conflicts } = await plan(deps, selected, force);
  if (ops.length === 0) return { acceptId: null, applied: [], conflicts, record: null };
  const id = newAcceptId();
  const touched = [
    ...new Set(ops.flatMap((o) => [itemPath(o.sel.item), ...(o.sel.item.oldPath ? [o.sel.item.oldPath] : [])])),
  ];
  const before: Record<string, Base> = {};
  for (const p of touched) before[p] = await store.captureBase(p);
  const dirs = await missingDirs(store.root, ops);
  const temps: string[] = [];
  try {
    for (const o of ops)
      if (o.target.kind === 'write')
        temps.push((o.tmp = await stageFile(path.join(store.root, o.sel.item.path), o.target.source, o.target.mode)));
  } catch (e) {
    await removeQuietly(temps);
    await removeEmptyDirs(store.root, dirs);
    throw new ShadowboxError(
      ErrorCodes.ShadowFailed,
      'write_failed',
      `could not stage the accepted files; nothing was changed (${(e as Error).message})`,
      {},
      { cause: e },
    );
  }
  const record: AcceptRecord = {
    id,
    state: 'pending',
    time: new Date().toISOString(),
    by,
    force,
    temps,
    files: touched.map((p) => ({ path: p, action: '', before: before[p] })),
    dirs,
  };
  await journal.write(record);
  try {
    for (const [i, o] of ops.entries()) {
      const abs = path.join(store.root, itemPath(o.sel.item));
      if (o.target.kind === 'write') await commitStaged(o.tmp!, abs);
      else if (o.target.kind === 'delete') await removeReal(abs, false);
      else if (o.target.kind === 'mkdir') await mkdir(abs, { recursive: true });
      else await removeReal(abs, true).catch(() => undefined);
      if (o.sel.item.oldPath) await removeReal(path.join(store.root, o.sel.item.oldPath), false);
      await deps.onStep?.(i, itemPath(o.sel.item));
    }
  } catch (e) {
    await removeQuietly(temps);
    await rollBack(store, record);
    throw new ShadowboxError(
      ErrorCodes.ShadowFailed,
      'write_failed',
      `accept failed and was rolled back (${(e as Error).message})`,
      {},
      { cause: e },
    );
  }
  const newDirs = Object.keys(store.m.entries).filter((k) => {
    const e = store.m.entries[k];
    return e.kind === 'dir' && e.base.type === 'none' && !e.opaque;
  });
  const layerBefore = sliceOf(store, [...touched, ...newDirs]);
  await updateLayer(deps, ops);
  // A directory the agent created and the accept made real needs no layer entry any more.
  for (const d of newDirs)
    if ((await lstat(path.join(store.root, d)).catch(() => null))?.isDirectory()) delete store.m.entries[d];
  const removedDirs = await pruneDeletedDirs(store, touched);
  const all = [...touched, ...removedDirs.map((d) => d.path)];
  for (const f of record.files) f.after = await store.captureBase(f.path);
  for (const d of removedDirs) record.files.push({ ...d, action: 'deleted' });
  for (const f of record.files)
    f.action =
      ops.find((o) => itemPath(o.sel.item) === f.path)?.action ?? (f.after?.type === 'none' ? 'deleted' : 'written');
  for (const p of touched) store.m.known[p] = record.files.find((f) => f.path === p)!.after!;
  record.layerBefore = layerBefore;
  record.layerAfter = sliceOf(store, [...all, ...newDirs]);
  for (const d of removedDirs) record.layerBefore.entries[d.path] = { kind: 'deleted', base: { type: 'dir' } };
  record.state = 'applied';
  await journal.write(record);
  store.m.accepts.push(id);
  await store.save();
  record.state = 'done';
  await journal.write(record);
  return { acceptId: id, applied: ops.map((o) => ({ path: o.sel.item.path, action: o.action })), conflicts, record };
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

const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');

/** Directories an accept will create (missing parents of written files, new directories), shallow first. */
async function missingDirs(root: string, ops: Op[]): Promise<string[]> {
  const out = new Set<string>();
  for (const o of ops) {
    if (o.target.kind !== 'write' && o.target.kind !== 'mkdir') continue;
    const p = itemPath(o.sel.item);
    for (let d = o.target.kind === 'mkdir' ? p : parentOf(p); d !== '' && !out.has(d); d = parentOf(d)) {
      if (
        await lstat(path.join(root, d)).then(
          () => true,
          () => false,
        )
      )
        break;
      out.add(d);
    }
  }
  return [...out].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
}

/** Removes directories an accept created, deepest first, each only if it is empty (the person's files keep theirs). */
export async function removeEmptyDirs(root: string, dirs: string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const d of [...dirs].sort((a, b) => b.split('/').length - a.split('/').length)) {
    try {
      await rmdir(path.join(root, d));
      removed.push(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
    }
  }
  return removed;
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
    e.base = newBase;
    store.touch('entries', p);
    if (o.merged && o.partial !== undefined && newBase.type === 'file') {
      // Rebase the rest of the agent's edit onto what was written (the person's edits included).
      const shadowText = (await store.readObject(e.oid)).toString('utf8');
      const written = await readFile(path.join(store.root, p), 'utf8');
      const tmpBase = await store.putBytes(Buffer.from(o.partial));
      const tmpOurs = path.join(store.dir, `rebase-${randomBytes(4).toString('hex')}.tmp`);
      await writeFile(tmpOurs, written);
      const r = await deps
        .git(['merge-file', '-p', tmpOurs, await store.objectFile(tmpBase), await store.objectFile(e.oid)], {
          okCodes: Array.from({ length: 127 }, (_, i) => i + 1),
        })
        .finally(() => rm(tmpOurs, { force: true }));
      if (r.exitCode === 0 && r.stdout !== shadowText) {
        const oid = await store.putBytes(Buffer.from(r.stdout));
        Object.assign(e, { oid, size: Buffer.byteLength(r.stdout) });
      }
    }
    if (newBase.type === 'file' && newBase.oid === e.oid && newBase.mode === e.mode) delete store.m.entries[p];
  }
}

/** Removes real directories the layer deleted once nothing of theirs is pending any more. */
async function pruneDeletedDirs(
  store: LayerStore,
  touched: string[],
): Promise<{ path: string; before: Base; after: Base }[]> {
  const out: { path: string; before: Base; after: Base }[] = [];
  const entries = store.m.entries;
  const dirs = Object.keys(entries)
    .filter(
      (k) =>
        entries[k].kind === 'deleted' && entries[k].base.type === 'dir' && touched.some((t) => t.startsWith(k + '/')),
    )
    .sort((a, b) => b.length - a.length);
  for (const d of dirs) {
    if (Object.keys(entries).some((k) => k.startsWith(d + '/'))) continue;
    try {
      await removeReal(path.join(store.root, d), true);
      delete entries[d];
      out.push({ path: d, before: { type: 'dir' }, after: { type: 'none' } });
    } catch {
      // the person put something there: the directory stays, and so does the pending removal
    }
  }
  return out;
}

/** Restores every journaled file that differs from its `before` bytes (crash recovery, failed accept). */
export async function rollBack(store: LayerStore, record: AcceptRecord): Promise<string[]> {
  const restored: string[] = [];
  for (const f of record.files) {
    if (await store.realMatches(f.path, f.before)) continue;
    await restoreBase(store, f.path, f.before);
    restored.push(f.path);
  }
  await removeQuietly(record.temps);
  await removeEmptyDirs(store.root, record.dirs ?? []);
  return restored;
}

/** Puts exactly `b` back at a real path (atomic for files and symlinks). */
export async function restoreBase(store: LayerStore, rel: string, b: Base): Promise<void> {
  const abs = path.join(store.root, rel);
  if (b.type === 'none') {
    const st = await lstat(abs).catch(() => null);
    // A directory that was not there goes only if empty: what the person put in it since stays.
    if (st?.isDirectory()) await removeEmptyDirs(store.root, [rel]);
    else if (st) await removeReal(abs, false);
    return;
  }
  if (b.type === 'dir') {
    await mkdir(abs, { recursive: true });
    return;
  }
  const source: Source =
    b.type === 'symlink' ? { link: (await store.readObject(b.oid)).toString('utf8') } : await store.objectSource(b.oid);
  const tmp = await stageFile(abs, source, b.mode);
  await commitStaged(tmp, abs);
}
