import type { Stats } from 'node:fs';
import { lstat, open, readdir as readRealDir } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, type ReasonOf, ShadowboxError } from '../errors.js';
import { blobOid } from './git.js';
import { type Base, type Entry, type LayerStore, type Mutex } from './layer.js';
import { type PathRules, resolvePath, splitRelative } from './paths.js';
import type { ProtectedGlobs } from './protect.js';
import type { DirEntry, EntryStat, EntryType, WorkspaceView } from './view.js';

type Found = { layer: Entry } | { real: true } | null;

const notFound = (p: string) =>
  new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', `no such file or directory: ${p}`, { path: p });
const notAFile = (p: string, reason: ReasonOf<'NotAFile'> = 'not_a_file') =>
  new ShadowboxError(ErrorCodes.NotAFile, reason, `not a file: ${p}`, { path: p });

const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
const under = (rel: string, dir: string) => dir === '' || rel.startsWith(dir + '/');

/** Why: the layered view every tool sees — reads fall through to the real workspace, writes go to the layer. */
export class LayeredView implements WorkspaceView {
  readonly root: string;
  private readonly rules: PathRules;

  constructor(
    private readonly store: LayerStore,
    private readonly lock: Mutex,
    protectedPrefixes: string[],
    /** The workspace's protected globs (policy), checked on every write, mkdir, remove and rename; null = none. */
    private readonly guard: ProtectedGlobs | null = null,
  ) {
    this.root = store.root;
    this.rules = { root: store.root, protectedPrefixes, shadowed: (rel) => this.shadowed(rel) };
  }

  private get entries(): Record<string, Entry> {
    return this.store.m.entries;
  }

  /** True when a strict ancestor of rel hides the real file system below it. */
  private hiddenByAncestor(rel: string): boolean {
    for (let p = parentOf(rel); p !== ''; p = parentOf(p)) {
      const e = this.entries[p];
      if (e && (e.kind !== 'dir' || e.opaque)) return true;
    }
    return false;
  }

  private shadowed(rel: string): boolean {
    return this.entries[rel] !== undefined || this.hiddenByAncestor(rel);
  }

  private lookup(rel: string): Found {
    const e = this.entries[rel];
    if (e) return e.kind === 'deleted' ? null : { layer: e };
    if (rel !== '' && this.hiddenByAncestor(rel)) return null;
    return { real: true };
  }

  isReal(rel: string): boolean {
    return !this.shadowed(rel);
  }

  /** Where a canonical path's current content lives: a layer object, the real file, or nowhere (no read is recorded). */
  locate(rel: string): { oid: string } | { real: string } | null {
    const f = this.lookup(rel);
    if (!f) return null;
    if ('layer' in f) return f.layer.kind === 'file' ? { oid: f.layer.oid } : null;
    return { real: path.join(this.root, rel) };
  }

  resolve(p: string, intent: 'read' | 'write' = 'read'): Promise<string> {
    return resolvePath(this.rules, p, { intent, followLast: true });
  }

  async stat(p: string): Promise<EntryStat | null> {
    const rel = await this.resolve(p);
    const f = this.lookup(rel);
    if (!f) return null;
    if ('layer' in f) {
      const e = f.layer;
      return e.kind === 'file'
        ? { type: 'file', size: e.size, mode: e.mode, mtimeMs: e.mtimeMs }
        : { type: 'dir', size: 0, mode: 0o755, mtimeMs: 0 };
    }
    try {
      const st = await lstat(path.join(this.root, rel));
      return { type: typeOf(st), size: st.size, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
    } catch {
      return null;
    }
  }

  async readFile(p: string): Promise<Uint8Array> {
    const rel = await this.resolve(p);
    const f = this.lookup(rel);
    if (!f) throw notFound(p);
    if ('layer' in f) {
      if (f.layer.kind !== 'file') throw notAFile(p, 'is_directory');
      return new Uint8Array(await this.store.readObject(f.layer.oid));
    }
    let h;
    try {
      h = await open(path.join(this.root, rel), 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EISDIR') throw notAFile(p, 'is_directory');
      throw code === 'ENOENT' || code === 'ENOTDIR' ? notFound(p) : e;
    }
    try {
      const st = await h.stat();
      if (st.isDirectory()) throw notAFile(p, 'is_directory');
      const data = new Uint8Array(await h.readFile());
      // Remember what the agent saw: a later write is based on this, so the person's edits after it merge.
      if (st.isFile() && rel !== '' && !rel.split('/').includes('.git'))
        await this.lock.run(async () => this.rememberRead(rel, data, st));
      return data;
    } finally {
      await h.close();
    }
  }

  private async rememberRead(
    rel: string,
    data: Uint8Array,
    st: { mode: number; size: number; mtimeMs: number; ino: number },
  ): Promise<void> {
    if (this.entries[rel]) return;
    const oid = blobOid(data);
    if (this.store.m.reads[rel]?.type === 'file' && (this.store.m.reads[rel] as { oid: string }).oid === oid) return;
    await this.store.putBytes(data);
    this.store.m.reads[rel] = {
      type: 'file',
      oid,
      mode: st.mode & 0o7777,
      size: st.size,
      mtimeMs: st.mtimeMs,
      ino: st.ino,
    };
  }

  async readdir(p: string): Promise<DirEntry[]> {
    const rel = await this.resolve(p);
    const f = this.lookup(rel);
    if (!f) throw notFound(p);
    if ('layer' in f && f.layer.kind !== 'dir') throw notAFile(p, 'not_a_directory');
    const out = new Map<string, EntryType>();
    const realVisible = 'real' in f || (f.layer.kind === 'dir' && !f.layer.opaque);
    if (realVisible) {
      try {
        for (const d of await readRealDir(path.join(this.root, rel), { withFileTypes: true })) {
          out.set(d.name, d.isDirectory() ? 'dir' : d.isFile() ? 'file' : d.isSymbolicLink() ? 'symlink' : 'other');
        }
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOTDIR') throw notAFile(p, 'not_a_directory');
        if (!('layer' in f)) throw notFound(p);
      }
    }
    for (const [k, e] of Object.entries(this.entries)) {
      if (k === rel || parentOf(k) !== rel) continue;
      const name = k.slice(rel === '' ? 0 : rel.length + 1);
      if (e.kind === 'deleted') out.delete(name);
      else out.set(name, e.kind === 'file' ? 'file' : 'dir');
    }
    return [...out]
      .map(([name, type]) => ({ name, type }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Refuses when the canonical path or the path as given matches a protected glob. */
  private async guardPath(rel: string, p: string): Promise<void> {
    if (!this.guard) return;
    const given = splitRelative(p).join('/');
    await this.guard.check(given === rel ? [rel] : [rel, given], p);
  }

  /** For a remove or move of a directory: refuses when anything below it (or below where it goes) is protected. */
  private async guardTree(rel: string, p: string, to?: string): Promise<void> {
    if (!this.guard || (await this.kindOf(rel)) !== 'dir') return;
    if (!(await this.guard.mayMatchBelow(rel, p)) && !(to !== undefined && (await this.guard.mayMatchBelow(to, p))))
      return;
    const walk = async (dir: string): Promise<void> => {
      for (const child of await this.readdir(dir)) {
        const c = `${dir}/${child.name}`;
        await this.guard!.check(to === undefined ? [c] : [c, to + c.slice(rel.length)], p);
        if (child.type === 'dir') await walk(c);
      }
    };
    await walk(rel);
  }

  async writeFile(p: string, data: Uint8Array | string, options: { mode?: number } = {}): Promise<void> {
    // The lstats resolving the path took answer "is the parent a directory" and "what is there now" below.
    const seen = new Map<string, Promise<Stats | null>>();
    const rel = await resolvePath(this.rules, p, { intent: 'write', followLast: true, seen });
    await this.guardPath(rel, p);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    await this.lock.run(async () => {
      await this.ensureParents(rel, p, seen);
      // The new bytes are stored while putFile looks at (and snapshots) the real file.
      const stored = this.store.putBytes(bytes);
      stored.catch(() => undefined);
      await this.putFile(rel, p, stored, bytes.byteLength, options.mode, undefined, seen);
      await this.store.save();
    });
  }

  async mkdir(p: string): Promise<void> {
    const rel = await this.resolve(p, 'write');
    await this.guardPath(rel, p);
    await this.lock.run(async () => {
      await this.ensureParents(rel, p);
      await this.makeDir(rel, p);
      await this.store.save();
    });
  }

  async remove(p: string): Promise<void> {
    const rel = await resolvePath(this.rules, p, { intent: 'write', followLast: false });
    await this.guardPath(rel, p);
    await this.guardTree(rel, p);
    await this.lock.run(async () => {
      await this.removeIn(rel, p);
      await this.store.save();
    });
  }

  async rename(from: string, to: string): Promise<void> {
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

  private async kindOf(rel: string, seen?: Map<string, Promise<Stats | null>>): Promise<EntryType | null> {
    const f = this.lookup(rel);
    if (!f) return null;
    if ('layer' in f) return f.layer.kind === 'file' ? 'file' : 'dir';
    const st = await (seen?.get(rel) ?? lstat(path.join(this.root, rel)).catch(() => null));
    return st ? typeOf(st) : null;
  }

  private async ensureParents(rel: string, p: string, seen?: Map<string, Promise<Stats | null>>): Promise<void> {
    const parent = parentOf(rel);
    if (parent === '') return;
    const kind = await this.kindOf(parent, seen);
    if (kind === 'dir') return;
    if (kind !== null) throw notAFile(p, 'parent_not_a_directory');
    await this.ensureParents(parent, p);
    await this.makeDir(parent, p);
  }

  private async makeDir(rel: string, p: string): Promise<void> {
    const kind = await this.kindOf(rel);
    if (kind === 'dir') return;
    if (kind !== null) throw notAFile(p, 'exists_not_a_directory');
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
    seen?: Map<string, Promise<Stats | null>>,
  ): Promise<void> {
    const prev = this.entries[rel];
    let base: Base;
    if (!prev && !this.hiddenByAncestor(rel)) {
      // The real path shows through: one lstat answers "is it a directory" and feeds the base snapshot.
      const st = await (seen?.get(rel) ?? lstat(path.join(this.root, rel)).catch(() => null));
      if (st?.isDirectory()) throw notAFile(p, 'is_directory');
      base = await this.store.baseFor(rel, st);
    } else {
      if ((await this.kindOf(rel)) === 'dir') throw notAFile(p, 'is_directory');
      base = prev ? prev.base : await this.store.baseFor(rel);
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

  private async removeIn(rel: string, p: string): Promise<void> {
    const kind = await this.kindOf(rel);
    if (kind === null) throw notFound(p);
    if (kind === 'dir') {
      if (
        'real' in this.lookup(rel)! ||
        (this.entries[rel]?.kind === 'dir' && !(this.entries[rel] as { opaque: boolean }).opaque)
      ) {
        await this.walkReal(rel, async (child, isDir) => {
          if (this.shadowed(child)) return;
          this.entries[child] = { kind: 'deleted', base: isDir ? { type: 'dir' } : await this.store.baseFor(child) };
          if (!isDir) this.noteDeleted(child);
        });
      }
      for (const [k, e] of Object.entries(this.entries)) {
        if (!under(k, rel) || k === rel) continue;
        this.dropOrDelete(k, e);
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

  private async walkReal(rel: string, visit: (child: string, isDir: boolean) => Promise<void>): Promise<void> {
    let list;
    try {
      list = await readRealDir(path.join(this.root, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const d of list) {
      const child = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        if (!this.shadowed(child)) await this.walkReal(child, visit);
        await visit(child, true);
      } else await visit(child, false);
    }
  }

  private async renameIn(a: string, b: string, from: string, to: string): Promise<void> {
    const kind = await this.kindOf(a);
    if (kind === null) throw notFound(from);
    const target = await this.kindOf(b);
    if (target === 'dir') throw notAFile(to, 'target_is_directory');
    if (kind === 'dir') {
      await this.makeDir(b, to);
      for (const child of await this.readdir(a))
        await this.renameIn(`${a}/${child.name}`, `${b}/${child.name}`, from, to);
      await this.removeIn(a, from);
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

function typeOf(st: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryType {
  return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
}
