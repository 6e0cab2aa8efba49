import type { Stats } from 'node:fs';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { LayeredReads, notAFile, notFound, parentOf, typeOf, under } from './layered-read.js';
import { type Base, type Entry, hidesRealBelow, isLinkEntry } from './layer-types.js';
import { resolvePath, splitRelative } from './paths.js';
import type { EntryType, WorkspaceView } from './view.js';

type Seen = Map<string, Promise<Stats | null>>;

/**
 * Why: the layered view every tool sees — reads fall through to the real workspace (layered-read.ts),
 * writes, deletes and moves go to the layer and never touch the person's files. Every mutation is
 * O(depth) in the path (the path is capped: paths.ts) plus, for a folder, O(its subtree).
 */
export class LayeredView extends LayeredReads implements WorkspaceView {
  /** Refuses when the canonical path or the path as given matches a protected glob. */
  private async guardPath(rel: string, p: string): Promise<void> {
    if (!this.guard) return;
    const given = splitRelative(p).join('/');
    await this.guard.check(given === rel ? [rel] : [rel, given], p);
  }

  /** For a remove or move of a directory: refuses when anything below it (or below where it goes) is protected. */
  private async guardTree(rel: string, p: string, to?: string): Promise<void> {
    const g = this.guard;
    if (!g || (await this.kindOf(rel)) !== 'dir') return;
    if (!(await g.mayMatchBelow(rel, p)) && !(to !== undefined && (await g.mayMatchBelow(to, p)))) return;
    const walk = async (dir: string): Promise<void> => {
      for (const child of await this.listAll(dir, p)) {
        this.live(p);
        const c = `${dir}/${child.name}`;
        await g.check(to === undefined ? [c] : [c, to + c.slice(rel.length)], p);
        if (child.type === 'dir') await walk(c);
      }
    };
    await walk(rel);
  }

  async writeFile(p: string, data: Uint8Array | string, options: { mode?: number } = {}): Promise<void> {
    this.live(p);
    // The lstats resolving the path took answer "is the parent a directory" and "what is there now" below.
    const seen: Seen = new Map();
    const rel = await resolvePath(this.rules, p, { intent: 'write', followLast: true, seen });
    await this.guardPath(rel, p);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    await this.lock.run(async () => {
      this.live(p);
      await this.ensureParents(rel, p, seen);
      // The new bytes are stored while putFile looks at (and snapshots) the real file.
      const stored = this.store.putBytes(bytes);
      stored.catch(() => undefined);
      await this.putFile(rel, p, stored, bytes.byteLength, options.mode, undefined, seen);
      await this.store.save();
    });
  }

  async mkdir(p: string): Promise<void> {
    this.live(p);
    const rel = await resolvePath(this.rules, p, { intent: 'write', followLast: true });
    await this.guardPath(rel, p);
    await this.lock.run(async () => {
      await this.ensureParents(rel, p);
      await this.makeDir(rel, p);
      await this.store.save();
    });
  }

  /**
   * Makes a symbolic link `p` → `target` in the layer (what a sandboxed command's `ln -s` becomes). The
   * target is kept as written, never resolved here: reads through it follow it like a real link (and are
   * refused when it leads outside), and accept creates the link itself, never writing through it.
   */
  async symlink(p: string, target: string): Promise<void> {
    this.live(p);
    if (target === '' || target.includes('\0') || Buffer.byteLength(target) > 4096)
      throw new ShadowboxError(ErrorCodes.ToolFailed, 'invalid_link_target', `not a usable link target for ${p}`, {
        path: p,
      });
    const seen: Seen = new Map();
    const rel = await resolvePath(this.rules, p, { intent: 'write', followLast: false, seen });
    await this.guardPath(rel, p);
    await this.lock.run(async () => {
      this.live(p);
      await this.ensureParents(rel, p, seen);
      const kind = await this.kindOf(rel, seen);
      if (kind === 'dir') throw notAFile(p, 'is_directory');
      await this.symlinkEntry(rel, target, await this.store.putBytes(Buffer.from(target)), seen);
      await this.store.save();
    });
  }

  async remove(p: string): Promise<void> {
    this.live(p);
    const rel = await resolvePath(this.rules, p, { intent: 'write', followLast: false });
    await this.guardPath(rel, p);
    await this.guardTree(rel, p);
    await this.lock.run(async () => {
      await this.removeIn(rel, p);
      await this.store.save();
    });
  }

  async rename(from: string, to: string): Promise<void> {
    this.live(from);
    const a = await resolvePath(this.rules, from, { intent: 'write', followLast: false });
    const b = await resolvePath(this.rules, to, { intent: 'write', followLast: false });
    if (a === b) return;
    if (under(b, a))
      throw new ShadowboxError(ErrorCodes.ToolFailed, 'rename_into_self', `cannot move ${from} into itself`, {
        path: to,
      });
    await this.guardPath(a, from);
    await this.guardPath(b, to);
    await this.guardTree(a, from, b);
    await this.lock.run(async () => {
      await this.ensureParents(b, to);
      await this.renameIn(a, b, from, to);
      await this.store.save();
    });
  }

  // ---- mutations (caller holds the lock) ----

  private async kindOf(rel: string, seen?: Seen): Promise<EntryType | null> {
    const f = this.lookup(rel);
    if (!f) return null;
    if ('layer' in f) return isLinkEntry(f.layer) ? 'symlink' : f.layer.kind === 'file' ? 'file' : 'dir';
    const st = await (seen?.get(rel) ?? this.store.real.lstat(rel));
    return st ? typeOf(st) : null;
  }

  /**
   * Makes the missing folders above `rel` in the layer: one walk down from the root, each ancestor
   * looked at once (O(depth); it used to re-check every ancestor at every level, O(depth³)).
   */
  private async ensureParents(rel: string, p: string, seen?: Seen): Promise<void> {
    const parent = parentOf(rel);
    if (parent === '') return;
    const kind = await this.kindOf(parent, seen);
    if (kind === 'dir') return;
    if (kind !== null) throw notAFile(p, 'parent_not_a_directory');
    let prefix = '';
    let hidden = false;
    let missing = false;
    for (const c of parent.split('/')) {
      this.live(p);
      prefix = prefix === '' ? c : `${prefix}/${c}`;
      if (!missing) {
        const e = this.entries[prefix];
        let k: EntryType | null;
        if (e) k = e.kind === 'deleted' ? null : e.kind === 'file' ? 'file' : 'dir';
        else if (hidden) k = null;
        else {
          const st = await (seen?.get(prefix) ?? this.store.real.lstat(prefix));
          k = st ? typeOf(st) : null;
        }
        if (hidesRealBelow(e)) hidden = true;
        if (k === 'dir') continue;
        if (k !== null) throw notAFile(p, 'parent_not_a_directory');
        missing = true;
      }
      this.newDir(prefix);
    }
  }

  private async makeDir(rel: string, p: string): Promise<void> {
    const kind = await this.kindOf(rel);
    if (kind === 'dir') return;
    if (kind !== null) throw notAFile(p, 'exists_not_a_directory');
    this.newDir(rel);
  }

  /** A folder where the view shows nothing: opaque when it replaces a deletion (the old contents stay hidden). */
  private newDir(rel: string): void {
    const prev = this.entries[rel];
    this.entries[rel] =
      prev?.kind === 'deleted'
        ? { kind: 'dir', base: prev.base, opaque: true }
        : { kind: 'dir', base: { type: 'none' }, opaque: false };
  }

  private async putFile(
    rel: string,
    p: string,
    content: string | Promise<string>,
    size: number,
    mode: number | undefined,
    from?: string,
    seen?: Seen,
  ): Promise<void> {
    const prev = this.entries[rel];
    let base: Base;
    if (!prev && !this.hiddenByAncestor(rel)) {
      // The real path shows through: one lstat answers "is it a directory" and feeds the base snapshot.
      const st = await (seen?.get(rel) ?? this.store.real.lstat(rel));
      if (st?.isDirectory()) throw notAFile(p, 'is_directory');
      base = await this.store.baseFor(rel, st);
    } else {
      if ((await this.kindOf(rel)) === 'dir') throw notAFile(p, 'is_directory');
      // Below a folder the layer removed or replaced, the real path is not what the agent edits: nothing
      // real is its base (a real file there — even through a link that was there — is never snapshotted).
      base = prev ? prev.base : { type: 'none' };
    }
    const oid = await content;
    const keptMode = prev?.kind === 'file' ? prev.mode : base.type === 'file' ? base.mode : 0o644;
    const origin = from ?? (prev?.kind === 'file' ? prev.from : undefined);
    this.entries[rel] = {
      kind: 'file',
      oid,
      mode: (mode ?? keptMode) & 0o7777,
      size,
      mtimeMs: Date.now(),
      base,
      ...(origin !== undefined ? { from: origin } : {}),
    };
    this.store.m.known[rel] ??= base;
    this.store.markDirty(rel);
  }

  /** Puts a link entry at `rel` (caller holds the lock; parents exist). */
  private async symlinkEntry(rel: string, target: string, oid: string, seen?: Seen): Promise<void> {
    const prev = this.entries[rel];
    // Like a file's base: below a folder the layer removed or replaced, nothing real is the base.
    const base: Base = prev
      ? prev.base
      : this.hiddenByAncestor(rel)
        ? { type: 'none' }
        : await this.store.baseFor(rel, await (seen?.get(rel) ?? this.store.real.lstat(rel)));
    this.entries[rel] = {
      kind: 'file',
      oid,
      mode: 0o777,
      size: Buffer.byteLength(target),
      mtimeMs: Date.now(),
      base,
      link: target,
    };
    this.store.m.known[rel] ??= base;
    this.store.markDirty(rel);
  }

  private async removeIn(rel: string, p: string): Promise<void> {
    const kind = await this.kindOf(rel);
    if (kind === null) throw notFound(p);
    if (kind === 'dir') {
      const e = this.entries[rel];
      if ('real' in this.lookup(rel)! || (e?.kind === 'dir' && !e.opaque)) {
        await this.walkReal(rel, p, async (child, isDir) => {
          if (this.shadowed(child)) return;
          this.entries[child] = { kind: 'deleted', base: isDir ? { type: 'dir' } : await this.store.baseFor(child) };
          if (!isDir) this.noteDeleted(child);
        });
      }
      for (const [k, c] of Object.entries(this.entries)) {
        if (!under(k, rel) || k === rel) continue;
        this.dropOrDelete(k, c);
      }
    }
    const e = this.entries[rel];
    if (e) this.dropOrDelete(rel, e);
    else this.entries[rel] = { kind: 'deleted', base: await this.store.baseFor(rel) };
    if (kind !== 'dir') this.noteDeleted(rel);
  }

  private noteDeleted(rel: string): void {
    const e = this.entries[rel];
    if (e) this.store.m.known[rel] ??= e.base;
    this.store.markDirty(rel);
  }

  /** A layer entry disappears: back to nothing when it was new, else a deletion of its base. */
  private dropOrDelete(rel: string, e: Entry): void {
    if (e.kind === 'deleted') return;
    if (e.base.type === 'none') delete this.entries[rel];
    else this.entries[rel] = { kind: 'deleted', base: e.base };
    if (e.kind === 'file') this.store.markDirty(rel);
  }

  /** Visits the real tree below `rel` (children before their folder), never through a symlink. */
  private async walkReal(
    rel: string,
    p: string,
    visit: (child: string, isDir: boolean) => Promise<void>,
  ): Promise<void> {
    this.live(p);
    const list = await this.store.real.readdir(rel).catch(() => null);
    for (const d of list ?? []) {
      const child = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        if (!this.shadowed(child)) await this.walkReal(child, p, visit);
        await visit(child, true);
      } else await visit(child, false);
    }
  }

  private async renameIn(a: string, b: string, from: string, to: string): Promise<void> {
    this.live(from);
    const kind = await this.kindOf(a);
    if (kind === null) throw notFound(from);
    const target = await this.kindOf(b);
    if (target === 'dir') throw notAFile(to, 'target_is_directory');
    if (kind === 'dir') {
      await this.makeDir(b, to);
      for (const child of await this.listAll(a, from))
        await this.renameIn(`${a}/${child.name}`, `${b}/${child.name}`, from, to);
      await this.removeIn(a, from);
      return;
    }
    const moved = this.entries[a];
    if (kind === 'symlink' && isLinkEntry(moved)) {
      // A link the agent made moves whole (its target text unchanged).
      this.dropOrDelete(a, moved);
      this.noteDeleted(a);
      await this.symlinkEntry(b, moved.link, moved.oid);
      return;
    }
    if (kind !== 'file')
      throw new ShadowboxError(
        ErrorCodes.ToolFailed,
        'unsupported_rename',
        `only files and directories can be moved: ${from}`,
        { path: from },
      );
    const e = this.entries[a];
    let oid: string, size: number, mode: number, origin: string | undefined;
    if (e?.kind === 'file') {
      ({ oid, size, mode } = e);
      origin = e.from ?? (e.base.type === 'none' ? undefined : a);
    } else {
      const base = await this.store.baseFor(a);
      if (base.type !== 'file') throw notFound(from);
      this.entries[a] = { kind: 'deleted', base };
      ({ oid, size, mode } = base);
      origin = a;
    }
    if (e?.kind === 'file') this.dropOrDelete(a, e);
    this.noteDeleted(a);
    await this.putFile(b, to, oid, size, mode, origin);
  }
}
