import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { ItemDiff, ReviewItem } from './changes.js';
import { applyHunks, type HunkInfo, looksBinary, MAX_DIFF_BYTES } from './diff.js';
import { blobOid, type Git } from './git.js';
import type { LayerStore } from './layer.js';
import type { Base } from './layer-types.js';
import type { Source } from './real-writer.js';

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

export type Action = 'written' | 'deleted' | 'merged' | 'renamed' | 'mode';
export type Target =
  | {
      kind: 'write';
      source: Source;
      mode: number;
      oid: string;
      size: number;
      link?: true;
      /** The bytes are an object of the layer's store (a whole-file accept), not made for this accept. */
      stored?: true;
    }
  | { kind: 'delete' }
  | { kind: 'mkdir' }
  | { kind: 'rmdir' };

/** One real change an accept makes. */
export interface Op {
  sel: Selected;
  target: Target;
  action: Action;
  /** Text written when only some hunks were taken (the new base of the remaining ones). */
  partial?: string;
  merged?: boolean;
  /** The staged temp (workspace-relative), chosen before anything is written. */
  tmp?: string;
  /** The staged temp's metadata once written (the same inode and mtime after its rename). */
  staged?: Stats | null;
  /** The replaced file's second name in the state dir, made before the rename (removed after the answer; RealWriter.keep). */
  kept?: string;
}

export interface Conflict {
  path: string;
  hunks: string[];
  conflictText: string;
}

export const itemPath = (i: ReviewItem) => (i.dir ? i.path.slice(0, -1) : i.path);

/** A write of bytes held in memory (its blob id and size are what recovery compares against). */
function bytesTarget(bytes: Buffer, mode: number): Target {
  return { kind: 'write', source: { bytes }, mode, oid: blobOid(bytes), size: bytes.byteLength };
}

/** What a real path holds once `t` is written (compared by blob id, size and mode: no stat shortcut). */
export function targetBase(t: Target): Base {
  if (t.kind === 'write')
    return { type: t.link ? 'symlink' : 'file', oid: t.oid, mode: t.mode & 0o7777, size: t.size, mtimeMs: 0, ino: 0 };
  return t.kind === 'mkdir' ? { type: 'dir' } : { type: 'none' };
}

/** Three-way merge with `git merge-file`: real (ours, copied out first: git never opens the workspace path) ← base → agent. */
async function mergeFile(
  git: Git,
  store: LayerStore,
  ours: string,
  baseOid: string,
  theirs: string,
): Promise<{ clean: boolean; text: string }> {
  const tag = randomBytes(4).toString('hex');
  const oursFile = path.join(store.dir, `merge-ours-${tag}.tmp`);
  const theirsFile = path.join(store.dir, `merge-${tag}.tmp`);
  await writeFile(oursFile, ours);
  await writeFile(theirsFile, theirs);
  try {
    const r = await git(
      [
        'merge-file',
        '-p',
        '-L',
        'yours',
        '-L',
        'base',
        '-L',
        'agent',
        oursFile,
        await store.objectFile(baseOid),
        theirsFile,
      ],
      { okCodes: Array.from({ length: 127 }, (_, i) => i + 1) },
    );
    return { clean: r.exitCode === 0, text: r.stdout };
  } finally {
    await rm(oursFile, { force: true });
    await rm(theirsFile, { force: true });
  }
}

/** The real file as text when it can take part in a merge (read without following symlinks), else null. */
async function realText(store: LayerStore, rel: string): Promise<string | null> {
  try {
    const st = await store.real.lstat(rel);
    if (!st?.isFile() || st.size > MAX_DIFF_BYTES) return null;
    const buf = await store.real.readFile(rel);
    return buf === null || looksBinary(buf) ? null : buf.toString('utf8');
  } catch {
    return null;
  }
}

/** Decides what each selected item writes, merging where the person changed the file since its base. */
export async function plan(
  store: LayerStore,
  git: Git,
  selected: Selected[],
  force: boolean,
): Promise<{ ops: Op[]; conflicts: Conflict[] }> {
  const ops: Op[] = [];
  const conflicts: Conflict[] = [];
  for (const sel of selected) {
    const it = sel.item;
    let target: Target;
    let partial: string | undefined;
    let theirsText: string | null = null;
    if (it.dir) target = { kind: it.change === 'added' ? 'mkdir' : 'rmdir' };
    else if (sel.hunks === null || it.change === 'deleted') {
      target = !it.next
        ? { kind: 'delete' }
        : it.next.link !== undefined
          ? // A link is created as a link (a temp link renamed over the target): nothing is written through it.
            {
              kind: 'write',
              source: { link: it.next.link },
              mode: 0o777,
              oid: it.next.oid,
              size: it.next.size,
              link: true,
            }
          : {
              kind: 'write',
              source: await store.objectSource(it.next.oid),
              mode: it.next.mode,
              oid: it.next.oid,
              size: it.next.size,
              stored: true,
            };
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
      target = bytesTarget(Buffer.from(partial), mode);
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
    const ours =
      it.change === 'modified' && target.kind === 'write' && theirsText !== null && it.old.type === 'file'
        ? await realText(store, it.path)
        : null;
    if (ours !== null && it.old.type === 'file') {
      const m = await mergeFile(git, store, ours, it.old.oid, theirsText!);
      if (m.clean) {
        ops.push({
          sel,
          target: bytesTarget(Buffer.from(m.text), (target as { mode: number }).mode),
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
