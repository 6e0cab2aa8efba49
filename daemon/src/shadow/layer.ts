import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { hashFileHandle, type Logger } from '../state/index.js';
import { BlobStore, INLINE_BYTES } from './blob-store.js';
import type { FaultHook } from './fault.js';
import { blobOid } from './git.js';
import { compactObjects } from './layer-compact.js';
import { LayerLog } from './layer-log.js';
import { type Base, type CompactStats, type CompactStep, type Manifest, MAPS, type MapName } from './layer-types.js';
import { ReadMemory } from './read-memory.js';
import { lstatQuiet, RealFs } from './real-fs.js';

/** Log lines before the manifest is rewritten whole (compaction). */
const COMPACT_AFTER = 2000;

export interface LayerStoreOptions {
  logger?: Logger;
  faults?: FaultHook;
}

/**
 * Why: one place owns the on-disk state of a session's layer — the manifest (`layer.json` snapshot +
 * `layer.log`, one line of changed keys per save: O(1) per write, not O(layer)) and the object store
 * (`blob-store.ts`) — and reads the person's files for bases only through `RealFs` (no symlink is
 * followed). Nested objects are replaced, never mutated in place (or `touch`ed).
 */
export class LayerStore {
  readonly m: Manifest;
  readonly blobs: BlobStore;
  readonly real: RealFs;
  /** Real files the agent read in this process (memory only): bases of later first edits. */
  private readonly seen = new ReadMemory();
  private readonly changed: Record<MapName, Set<string>> = {
    entries: new Set(),
    reads: new Set(),
    known: new Set(),
    committed: new Set(),
    dirty: new Set(),
    blobs: new Set(),
  };
  /** Checkpoints already in the log or snapshot: a log line carries only the ones after (the list grows by one per turn). */
  private savedCheckpoints = 0;
  /** Each changed key's value as of the last save (undefined: absent), so a failed save can put it back. */
  private readonly prev: Record<MapName, Map<string, unknown>> = {
    entries: new Map(),
    reads: new Map(),
    known: new Map(),
    committed: new Map(),
    dirty: new Map(),
    blobs: new Map(),
  };
  /** The maps themselves, unproxied (a revert writes them without recording a change). */
  private readonly raw = {} as Record<MapName, Record<string, unknown>>;
  /** Bumped at every write or delete of an entry key (through the proxy or a revert): entriesIn's index checks it. */
  private entriesVersion = 0;
  /** Entry keys by parent folder, as of `indexVersion`. */
  private index: { version: number; byParent: Map<string, string[]> } | null = null;
  /** tip, checkpoints and the undo stack as of the last save. */
  private saved: { tip: string | null; checkpoints: Manifest['checkpoints']; accepts: string[] };
  private readonly opts: LayerStoreOptions;

  private constructor(
    readonly dir: string,
    readonly root: string,
    raw: Manifest,
    private readonly log: LayerLog,
    opts: LayerStoreOptions,
  ) {
    for (const name of MAPS) {
      this.raw[name] = raw[name];
      (raw as unknown as Record<string, unknown>)[name] = this.track<unknown>(name, raw[name]);
    }
    this.m = raw;
    this.saved = { tip: raw.tip, checkpoints: [...raw.checkpoints], accepts: [...raw.accepts] };
    this.blobs = new BlobStore(dir, raw, opts);
    this.opts = opts;
    this.real = new RealFs(root);
  }

  private track<T>(name: MapName, obj: Record<string, T>): Record<string, T> {
    const changed = this.changed[name];
    const prev = this.prev[name];
    const remember = (t: Record<string, T>, k: string) => {
      if (!prev.has(k)) prev.set(k, Object.hasOwn(t, k) ? t[k] : undefined);
    };
    const bump = name === 'entries' ? () => this.entriesVersion++ : () => undefined;
    return new Proxy(obj, {
      set(t, k, v) {
        remember(t, k as string);
        t[k as string] = v as T;
        changed.add(k as string);
        bump();
        return true;
      },
      deleteProperty(t, k) {
        remember(t, k as string);
        delete t[k as string];
        changed.add(k as string);
        bump();
        return true;
      },
    });
  }

  /**
   * How many times an entry was written or deleted so far (the proxy's traps, a revert): it moves in the same
   * synchronous step as the change, so a reader that sees the same number twice saw no entry change in between.
   */
  get entryChanges(): number {
    return this.entriesVersion;
  }

  /**
   * The keys of the layer entries directly in folder `dir` ("" for the root), from an index of the entries by
   * parent that is built again only after an entry changed: a walk lists thousands of folders, and a pass over
   * every entry per folder took seconds with a few thousand entries (4,000 folders, 4,000 entries: ~5 s a grep).
   */
  entriesIn(dir: string): readonly string[] {
    if (this.index?.version !== this.entriesVersion) {
      const byParent = new Map<string, string[]>();
      for (const k of Object.keys(this.raw.entries)) {
        if (k === '') continue;
        const at = k.lastIndexOf('/');
        const parent = at < 0 ? '' : k.slice(0, at);
        const list = byParent.get(parent);
        if (list) list.push(k);
        else byParent.set(parent, [k]);
      }
      this.index = { version: this.entriesVersion, byParent };
    }
    return this.index.byParent.get(dir) ?? [];
  }

  /** After a save: the current state is the one a failed save goes back to. */
  private markSaved(): void {
    for (const n of MAPS) this.prev[n].clear();
    this.saved = { tip: this.m.tip, checkpoints: [...this.m.checkpoints], accepts: [...this.m.accepts] };
  }

  /**
   * Puts the in-memory layer back to the last save: what a failed save of a view write, a reject or a
   * checkpoint does, so the call that failed (DiskFull) changed nothing. Changes made in place
   * (`touch`) cannot be put back; flows that use it save with `keep`.
   */
  private revertUnsaved(): void {
    for (const n of MAPS) {
      for (const [k, v] of this.prev[n]) {
        if (v === undefined) delete this.raw[n][k];
        else this.raw[n][k] = v;
        if (n === 'entries') this.entriesVersion++;
      }
      this.prev[n].clear();
      this.changed[n].clear();
    }
    this.m.tip = this.saved.tip;
    this.m.checkpoints = [...this.saved.checkpoints];
    this.m.accepts = [...this.saved.accepts];
    this.savedCheckpoints = Math.min(this.savedCheckpoints, this.m.checkpoints.length);
  }

  /** Loads a session's layer (a torn log line or object record is cut off, logged), or an empty one. */
  static async open(dir: string, root: string, sessionId: string, opts: LayerStoreOptions = {}): Promise<LayerStore> {
    const { m, log } = await LayerLog.load(dir, sessionId, root, opts);
    const store = new LayerStore(dir, root, m, log, opts);
    store.savedCheckpoints = m.checkpoints.length;
    await store.blobs.removeStrays();
    store.blobs.repairTail();
    return store;
  }

  get objectsDir(): string {
    return this.blobs.objectsDir;
  }

  /** Size in bytes of the current object file (records, live or not). */
  datBytes(): number {
    return this.blobs.datBytes();
  }

  /** Marks a key whose nested object was changed in place. */
  touch(name: MapName, key: string): void {
    this.changed[name].add(key);
  }

  /** Marks a path changed since the last checkpoint; a write through the view wins over a review action. */
  markDirty(rel: string, by: 'view' | 'review' = 'view'): void {
    if (by === 'view') this.m.dirty[rel] = 1;
    else if (this.m.dirty[rel] !== 1) this.m.dirty[rel] = 2;
  }

  /**
   * Persists the changes since the last save: one appended log line, or a whole snapshot now and then
   * (and always after an append that could not be cut back). When it fails (a full disk), the layer in
   * memory goes back to the last save (`revert`, the default: the failed call changed nothing), or —
   * for flows whose journal already records the change (accept, undo) — keeps it for the next save (`keep`).
   */
  async save(opts: { onFailure?: 'revert' | 'keep' } = {}): Promise<void> {
    try {
      await this.persist();
      this.markSaved();
    } catch (e) {
      if ((opts.onFailure ?? 'revert') === 'revert') this.revertUnsaved();
      throw e;
    }
  }

  private async persist(): Promise<void> {
    await this.blobs.ensureDirs();
    if (this.log.broken || this.log.lines >= COMPACT_AFTER) return this.compact();
    const maps = {} as Record<MapName, Record<string, unknown>>;
    const taken = {} as Record<MapName, string[]>;
    for (const name of MAPS) {
      const out: Record<string, unknown> = {};
      const src = this.m[name] as Record<string, unknown>;
      taken[name] = [...this.changed[name]];
      for (const k of taken[name]) out[k] = src[k] ?? null;
      this.changed[name].clear();
      maps[name] = out;
    }
    const from = Math.min(this.savedCheckpoints, this.m.checkpoints.length);
    const line = JSON.stringify({
      maps,
      tip: this.m.tip,
      cp: [from, this.m.checkpoints.slice(from)],
      accepts: this.m.accepts,
    });
    const saved = this.savedCheckpoints;
    this.savedCheckpoints = this.m.checkpoints.length;
    try {
      await this.log.append(line);
    } catch (e) {
      for (const name of MAPS) for (const k of taken[name]) this.changed[name].add(k);
      this.savedCheckpoints = Math.min(saved, this.savedCheckpoints);
      throw e;
    }
  }

  /** Writes the whole manifest as the snapshot and empties the log. */
  async compact(): Promise<void> {
    await this.blobs.ensureDirs();
    await this.log.snapshot(this.m);
    this.clearChanged();
    this.markSaved();
    this.savedCheckpoints = this.m.checkpoints.length;
  }

  /** Writes `m` (the manifest with a new object file) as the snapshot; the caller switches the in-memory manifest. */
  writeSnapshotOf(m: Manifest): Promise<void> {
    return this.log.snapshot(m);
  }

  clearChanged(): void {
    for (const n of MAPS) {
      this.changed[n].clear();
      this.prev[n].clear();
    }
  }

  /** Closes the log and blobs.dat handles (the next use reopens them). */
  async close(): Promise<void> {
    this.blobs.closeDat();
    await this.log.close();
  }

  /** Rewrites the object store with only `live` objects when enough of it is garbage (layer-compact.ts). */
  compactObjects(
    live: Set<string>,
    opts: { minBytes: number; ratio: number; onStep?: CompactStep; faults?: FaultHook },
  ): Promise<CompactStats | null> {
    return compactObjects(this, live, opts);
  }

  ensureDirs(): Promise<void> {
    return this.blobs.ensureDirs();
  }
  isInline(oid: string): boolean {
    return this.blobs.isInline(oid);
  }
  readObject(oid: string): Promise<Buffer> {
    return this.blobs.readObject(oid);
  }
  objectSource(oid: string): Promise<{ bytes: Buffer } | { object: string }> {
    return this.blobs.objectSource(oid);
  }
  objectFile(oid: string): Promise<string> {
    return this.blobs.objectFile(oid);
  }
  putBytes(data: Uint8Array): Promise<string> {
    return this.blobs.putBytes(data);
  }

  /**
   * Snapshots the real path now (file bytes copied into the store) without following a symlink
   * anywhere on its path; `known` = its lstat when the caller has it (null: absent).
   */
  async captureBase(rel: string, known?: Stats | null): Promise<Base> {
    if (known === undefined) {
      // Most paths are small regular files: one checked open reads and stats them (no lstat through the parent
      // first). Anything else — a link (the open refuses it), a folder, a large or absent file — takes the
      // lstat path below, as before.
      let r: { data: Buffer; st: Stats } | null = null;
      try {
        r = this.real.readSmallSync(rel, INLINE_BYTES);
      } catch {
        // a link, or a path that is not root/rel: answered below
      }
      if (r) {
        const s = r.st;
        return {
          type: 'file',
          oid: await this.putBytes(r.data),
          mode: s.mode & 0o7777,
          size: s.size,
          mtimeMs: s.mtimeMs,
          ino: s.ino,
        };
      }
    }
    const st = known === undefined ? this.real.lstatSync(rel) : known;
    if (!st) return { type: 'none' };
    if (st.isDirectory()) return { type: 'dir' };
    const meta = (s: Stats) => ({ mode: s.mode & 0o7777, size: s.size, mtimeMs: s.mtimeMs, ino: s.ino });
    if (st.isSymbolicLink()) {
      const target = await this.real.readlink(rel);
      return target === null
        ? { type: 'none' }
        : { type: 'symlink', oid: await this.putBytes(Buffer.from(target)), ...meta(st) };
    }
    if (!st.isFile()) return { type: 'none' };
    // Small files in one synchronous read; larger ones through an opened handle, streamed past 1 MiB.
    if (st.size <= INLINE_BYTES) {
      const r = this.real.readSmallSync(rel);
      return r ? { type: 'file', oid: await this.putBytes(r.data), ...meta(r.st) } : { type: 'none' };
    }
    const f = await this.real.openFile(rel);
    if (!f) return { type: 'none' };
    if (!f.st.isFile()) {
      await f.fh.close();
      return { type: 'none' };
    }
    let oid: string;
    if (f.st.size <= 1024 * 1024) {
      try {
        oid = await this.putBytes(await f.fh.readFile());
      } finally {
        await f.fh.close();
      }
    } else oid = await this.blobs.putStream(f.fh.createReadStream({ start: 0 }), f.st.size);
    return { type: 'file', oid, ...meta(f.st) };
  }

  /**
   * The base of a first edit: what the agent read (read-memory.ts), else the real path now. A read
   * file still as it was is captured now (same bytes); one the person changed since is based on the
   * bytes the agent saw, kept in memory — when those are gone (a restart, or dropped for room), on the
   * file as it is now, with a warning. (`m.reads` holds reads that layers stored before reads stayed in memory.)
   */
  async baseFor(rel: string, known?: Stats | null): Promise<Base> {
    const stored = this.m.reads[rel];
    if (stored) return stored;
    const seen = this.seen.get(rel);
    if (!seen || (await this.realMatches(rel, seen.base))) return this.captureBase(rel, known);
    if (seen.bytes) {
      await this.putBytes(seen.bytes);
      return seen.base;
    }
    this.opts.logger?.warn(
      `shadow: ${rel} changed after the agent read it, and its bytes as read are no longer in memory: the agent's first edit is based on the file as it is now (review shows the difference)`,
    );
    return this.captureBase(rel, known);
  }

  /** Records what the agent read of a real file, in memory only (never in the layer). */
  rememberRead(rel: string, data: Uint8Array, st: { mode: number; size: number; mtimeMs: number; ino: number }): void {
    const oid = blobOid(data);
    if (this.seen.has(rel, oid)) return;
    this.seen.remember(
      rel,
      { type: 'file' as const, oid, mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino },
      data,
    );
  }

  /**
   * True when the real path still holds exactly `base` (stat first, hash only when stat differs). It only
   * decides (stale, conflict, what a roll-back may put back): bytes are hashed through a checked open, and
   * whatever it answers, every write goes through RealWriter, which refuses a symlink on the way.
   */
  async realMatches(rel: string, base: Base): Promise<boolean> {
    const st = lstatQuiet(this.real.abs(rel));
    if (!st) return base.type === 'none';
    if (base.type === 'none') return false;
    if (base.type === 'dir') return st.isDirectory();
    if (base.type === 'symlink') {
      if (!st.isSymbolicLink()) return false;
      const target = await this.real.readlink(rel);
      return target !== null && blobOid(target) === base.oid;
    }
    if (!st.isFile() || st.size !== base.size || (st.mode & 0o7777) !== base.mode) return false;
    if (st.mtimeMs === base.mtimeMs && st.ino === base.ino) return true;
    if (st.size <= INLINE_BYTES) {
      // Small files in one synchronous checked read (no thread-pool round trips), hashed in memory.
      let r: { data: Buffer; st: Stats } | null;
      try {
        r = this.real.readSmallSync(rel);
      } catch {
        return false;
      }
      return r !== null && r.data.byteLength === base.size && blobOid(r.data) === base.oid;
    }
    const f = await this.real.openFile(rel).catch(() => null);
    if (!f) return false;
    try {
      return f.st.isFile() && f.st.size === base.size && (await hashHandle(f.fh, f.st.size)) === base.oid;
    } finally {
      await f.fh.close();
    }
  }
}

/** Git's blob id of an open file, streamed (never the whole file in memory); the handle stays open. */
async function hashHandle(fh: FileHandle, size: number): Promise<string> {
  const h = createHash('sha1').update(`blob ${size}\0`);
  await hashFileHandle(h, fh, size);
  return h.digest('hex');
}
