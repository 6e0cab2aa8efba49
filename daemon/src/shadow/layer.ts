import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  createReadStream,
  createWriteStream,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  type Stats,
  writevSync,
} from 'node:fs';
import {
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createHash } from 'node:crypto';
import { blobOid, fileBlobOid } from './git.js';

/** What a real path held when the session first based an edit on it; content lives in objects/<oid>. */
export type Base =
  | { type: 'none' }
  | { type: 'dir' }
  | { type: 'file' | 'symlink'; oid: string; mode: number; size: number; mtimeMs: number; ino: number };

/** One changed path in the layer. File content lives in objects/<oid>. */
export type Entry =
  | { kind: 'file'; oid: string; mode: number; size: number; mtimeMs: number; base: Base; from?: string }
  | { kind: 'deleted'; base: Base }
  | { kind: 'dir'; base: Base; opaque: boolean };

/** A blob as the shadow history holds it. */
export interface Blob {
  oid: string;
  mode: number;
  type: 'file' | 'symlink';
  /** In `committed`: the base (`baseKey`) the agent's version was derived from, so a later turn does not commit that base again. */
  on?: string;
}

export interface Checkpoint {
  id: string;
  turnId: string;
  summary: string;
  time: string;
}

/** The persisted state of one session's layer. */
export interface Manifest {
  version: 1;
  sessionId: string;
  workspace: string;
  entries: Record<string, Entry>;
  /** Snapshots of real files the agent read: the base of a later write. */
  reads: Record<string, Base>;
  /** What a path should hold in history when the layer no longer has it (base after reject, new bytes after accept). */
  known: Record<string, Base>;
  /** What the history tip holds for the paths the session touched. */
  committed: Record<string, Blob>;
  /** Paths changed since the last checkpoint: 1 written through the view (a turn, a tool), 2 by accept, reject or undo. */
  dirty: Record<string, 1 | 2>;
  tip: string | null;
  checkpoints: Checkpoint[];
  /** Accept ids, oldest first: the undo stack. */
  accepts: string[];
  /** Where small objects live in `blobs.dat`: blob id → [offset of the bytes, length]. */
  blobs: Record<string, [number, number]>;
  /** The file holding the `blobs` records (absent: `blobs.dat`); a compaction writes a new one and names it here. */
  dat?: string;
}

/** What one compaction of the object store did. */
export interface CompactStats {
  bytesBefore: number;
  bytesAfter: number;
  objectsDropped: number;
  filesRemoved: number;
  ms: number;
}

/** Test seam: called between the steps of a compaction; throwing there simulates a crash at that point. */
export type CompactStep = (step: 'dat_written' | 'manifest_written') => void | Promise<void>;

const MAPS = ['entries', 'reads', 'known', 'committed', 'dirty', 'blobs'] as const;
type MapName = (typeof MAPS)[number];
/**
 * Objects up to this size are records in `blobs.dat` (one append-only file per session), written and
 * read with synchronous positional calls: a few µs on the event loop, where a file per object costs
 * an inode (~0.15 ms to create here, and a 4 KiB block for a 1.5 KiB file) and every async call a
 * threadpool round trip. Larger objects are files `objects/<blob id>`.
 */
const INLINE_BYTES = 64 * 1024;
/** A blobs.dat record: magic "SBX1", u32 length, 20-byte blob id, then the bytes. */
const DAT_MAGIC = 0x53425831;
const DAT_HEADER = 28;
/** putBytes writes file objects up to this size without first looking whether they exist. */
const REWRITE_BYTES = 256 * 1024;
/** Log lines before the manifest is rewritten whole (compaction). */
const COMPACT_AFTER = 2000;

/**
 * Why: one place owns the on-disk layout of a session's layer — `layer.json` (a snapshot) plus
 * `layer.log` (one JSON line of changed keys per save, so a write costs O(1), not O(layer)), and
 * content-addressed `objects/`. Nested objects are replaced, never mutated in place (or `touch`ed).
 */
export class LayerStore {
  readonly objectsDir: string;
  readonly m: Manifest;
  private readonly changed: Record<MapName, Set<string>> = {
    entries: new Set(),
    reads: new Set(),
    known: new Set(),
    committed: new Set(),
    dirty: new Set(),
    blobs: new Set(),
  };
  private logLines = 0;
  /** Checkpoints already in the log or snapshot: a log line carries only the ones after (the list grows by one per turn). */
  private savedCheckpoints = 0;
  private log: FileHandle | null = null;
  private datFd: number | null = null;
  private datSize = 0;
  private made = false;
  /** Object ids this process wrote or found in `objects/` (no second look on disk). */
  private readonly stored = new Set<string>();

  private constructor(
    readonly dir: string,
    readonly root: string,
    raw: Manifest,
  ) {
    this.objectsDir = path.join(dir, 'objects');
    for (const name of MAPS) {
      const map: Record<string, unknown> = raw[name];
      (raw as unknown as Record<string, unknown>)[name] = this.track(name, map);
    }
    this.m = raw;
  }

  private track<T>(name: MapName, obj: Record<string, T>): Record<string, T> {
    const changed = this.changed[name];
    return new Proxy(obj, {
      set(t, k, v) {
        t[k as string] = v as T;
        changed.add(k as string);
        return true;
      },
      deleteProperty(t, k) {
        delete t[k as string];
        changed.add(k as string);
        return true;
      },
    });
  }

  static async open(dir: string, root: string, sessionId: string): Promise<LayerStore> {
    let m: Manifest;
    try {
      m = JSON.parse(await readFile(path.join(dir, 'layer.json'), 'utf8')) as Manifest;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      m = {
        version: 1,
        sessionId,
        workspace: root,
        entries: {},
        reads: {},
        known: {},
        committed: {},
        dirty: {},
        tip: null,
        checkpoints: [],
        accepts: [],
        blobs: {},
      };
    }
    m.blobs ??= {}; // a layer written before blobs.dat
    let lines: string[] = [];
    try {
      lines = (await readFile(path.join(dir, 'layer.log'), 'utf8')).split('\n');
    } catch {
      // no log yet
    }
    for (const line of lines) {
      if (!line) continue;
      let delta: {
        maps: Record<MapName, Record<string, unknown>>;
        tip: string | null;
        checkpoints?: Checkpoint[];
        cp?: [number, Checkpoint[]];
        accepts: string[];
      };
      try {
        delta = JSON.parse(line) as typeof delta;
      } catch {
        break; // a line torn by a crash: everything before it is intact
      }
      for (const name of MAPS) {
        const target = m[name] as Record<string, unknown>;
        for (const [k, v] of Object.entries(delta.maps[name] ?? {})) {
          if (v === null) delete target[k];
          else target[k] = v;
        }
      }
      // `cp`: the checkpoints appended since the line before (whole list in lines written before it existed).
      const checkpoints = delta.cp
        ? [...m.checkpoints.slice(0, delta.cp[0]), ...delta.cp[1]]
        : (delta.checkpoints ?? m.checkpoints);
      Object.assign(m, { tip: delta.tip, checkpoints, accepts: delta.accepts });
    }
    const store = new LayerStore(dir, root, m);
    store.logLines = lines.length;
    store.savedCheckpoints = m.checkpoints.length;
    await store.removeStrayDats();
    await store.recoverDatTail();
    return store;
  }

  private get datPath(): string {
    return path.join(this.dir, this.m.dat ?? 'blobs.dat');
  }

  /** Size in bytes of the current object file (records, live or not). */
  datBytes(): number {
    if (this.datFd !== null) return this.datSize;
    try {
      return statSync(this.datPath).size;
    } catch {
      return 0;
    }
  }

  /** Object files a compaction wrote but a crash kept the manifest from naming, or left behind after renaming its successor. */
  private async removeStrayDats(): Promise<void> {
    const current = this.m.dat ?? 'blobs.dat';
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return;
    }
    for (const n of names)
      if (/^blobs(-[0-9a-f]+)?\.dat(\.tmp)?$/.test(n) && n !== current)
        await rm(path.join(this.dir, n), { force: true });
  }

  /**
   * Rewrites the object store with only the `live` objects when the rest exceeds both `minBytes` and
   * `ratio` of the file; returns null when below. Crash-safe at every step: (1) the manifest is
   * snapshotted and the log emptied (old file, old offsets — the layer as it was); (2) the live records
   * are written to a new file `blobs-<hex>.dat`, fsynced; (3) a snapshot naming the new file and its
   * offsets is fsynced and renamed over layer.json — the switch; (4) the old file is removed. A crash
   * before (3) leaves the old manifest and file (the new file is removed on open); after it, the new
   * ones. Object files (`objects/<id>`, > 64 KiB or copies for merge-file) not in `live` are removed.
   * Caller holds the session lock (no put runs meanwhile).
   */
  async compactObjects(
    live: Set<string>,
    opts: { minBytes: number; ratio: number; onStep?: CompactStep },
  ): Promise<CompactStats | null> {
    const t0 = performance.now();
    const size = this.datBytes();
    let liveBytes = 0;
    const keep: [string, [number, number]][] = [];
    for (const [oid, loc] of Object.entries(this.m.blobs)) {
      if (!live.has(oid)) continue;
      keep.push([oid, loc]);
      liveBytes += DAT_HEADER + loc[1];
    }
    const dropped = Object.keys(this.m.blobs).length - keep.length;
    const garbage = size - liveBytes;
    if (garbage < opts.minBytes || garbage < opts.ratio * size) return null;
    await this.compact(); // (1)
    const name = `blobs-${randomBytes(6).toString('hex')}.dat`;
    const file = path.join(this.dir, name);
    const blobs: Record<string, [number, number]> = {};
    const out = await open(`${file}.tmp`, 'w', 0o644);
    try {
      keep.sort((a, b) => a[1][0] - b[1][0]);
      let at = 0;
      for (const [oid, [from, len]] of keep) {
        const rec = Buffer.allocUnsafe(DAT_HEADER + len);
        if (readSync(this.dat(), rec, 0, rec.byteLength, from - DAT_HEADER) !== rec.byteLength)
          throw new Error(`blobs.dat is shorter than its manifest says (object ${oid})`);
        await out.write(rec, 0, rec.byteLength, at);
        blobs[oid] = [at + DAT_HEADER, len];
        at += rec.byteLength;
      }
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(`${file}.tmp`, file); // (2)
    await opts.onStep?.('dat_written');
    await this.writeSnapshot({ ...this.m, blobs, dat: name }); // (3)
    // The switch in memory follows the one on disk synchronously: no save can slip in between.
    const old = this.datPath;
    for (const oid of Object.keys(this.m.blobs)) delete this.m.blobs[oid];
    Object.assign(this.m.blobs, blobs);
    this.m.dat = name;
    for (const n of MAPS) this.changed[n].clear();
    if (this.datFd !== null) closeSync(this.datFd);
    this.datFd = null;
    await opts.onStep?.('manifest_written');
    await rm(old, { force: true }); // (4)
    let filesRemoved = 0;
    for (const n of await readdir(this.objectsDir).catch(() => [] as string[])) {
      if (!/^[0-9a-f]{40}$/.test(n) || live.has(n)) continue;
      await rm(path.join(this.objectsDir, n), { force: true });
      this.stored.delete(n);
      filesRemoved++;
    }
    return {
      bytesBefore: size,
      bytesAfter: this.datBytes(),
      objectsDropped: dropped,
      filesRemoved,
      ms: performance.now() - t0,
    };
  }

  /** Writes layer.json whole (temp, fsync, rename) and empties the log. */
  private async writeSnapshot(m: Manifest): Promise<void> {
    const file = path.join(this.dir, 'layer.json');
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    const h = await open(tmp, 'w');
    try {
      await h.writeFile(JSON.stringify(m));
      await h.sync();
    } finally {
      await h.close();
    }
    await rename(tmp, file);
    // A crash here replays an old log over the new snapshot: harmless, each line sets keys to values
    // (compactObjects empties the log with a snapshot of the old offsets first, so no line names them).
    // Truncation, not a new file: the append handle keeps writing at the (new) end.
    await writeFile(path.join(this.dir, 'layer.log'), '');
    this.logLines = 0;
  }

  /**
   * Records appended after the last save (a crash before the manifest line that names them) are found
   * again by reading blobs.dat past the last known record: an object written before a journal record
   * that names it (an accept's `before` bytes) is never lost. A torn record ends the scan.
   */
  private async recoverDatTail(): Promise<void> {
    let end = 0;
    for (const [at, len] of Object.values(this.m.blobs)) end = Math.max(end, at + len);
    let h: FileHandle;
    try {
      h = await open(this.datPath, 'r');
    } catch {
      return;
    }
    let tail: Buffer;
    try {
      const size = (await h.stat()).size;
      if (size <= end) return;
      // Only the part after the last record the manifest names is read (what the last save missed).
      tail = Buffer.alloc(size - end);
      const { bytesRead } = await h.read(tail, 0, tail.byteLength, end);
      tail = tail.subarray(0, bytesRead);
    } finally {
      await h.close();
    }
    let pos = 0;
    while (pos + DAT_HEADER <= tail.byteLength && tail.readUInt32BE(pos) === DAT_MAGIC) {
      const len = tail.readUInt32BE(pos + 4);
      const at = pos + DAT_HEADER;
      if (at + len > tail.byteLength) break;
      const oid = tail.toString('hex', pos + 8, pos + DAT_HEADER);
      if (blobOid(tail.subarray(at, at + len)) !== oid) break;
      if (!this.m.blobs[oid]) this.m.blobs[oid] = [end + at, len];
      pos = at + len;
    }
    // Nothing the manifest names lies past `end + pos`: a torn tail is cut off so new records follow the last good one.
    if (pos < tail.byteLength) await truncate(this.datPath, end + pos);
  }

  /** The session's blobs.dat, opened on first use (read + positional write; never O_APPEND, whose pwrite ignores the offset on Linux). */
  private dat(): number {
    if (this.datFd === null) {
      this.datFd = openSync(this.datPath, constants.O_RDWR | constants.O_CREAT, 0o644);
      this.datSize = fstatSync(this.datFd).size;
    }
    return this.datFd;
  }

  /** Marks a key whose nested object was changed in place. */
  touch(name: MapName, key: string): void {
    this.changed[name].add(key);
  }

  /** Persists the changes since the last save: one appended log line, or a whole snapshot now and then. */
  async save(): Promise<void> {
    await this.ensureDirs();
    if (this.logLines >= COMPACT_AFTER) return this.compact();
    const maps = {} as Record<MapName, Record<string, unknown>>;
    for (const name of MAPS) {
      const out: Record<string, unknown> = {};
      const src = this.m[name] as Record<string, unknown>;
      for (const k of this.changed[name]) out[k] = src[k] ?? null;
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
    this.savedCheckpoints = this.m.checkpoints.length;
    // One append-mode handle for the session's life: a save is one write, not open + write + close.
    this.log ??= await open(path.join(this.dir, 'layer.log'), 'a');
    await this.log.write(line + '\n');
    this.logLines++;
  }

  /** Closes the log and blobs.dat handles (the next use reopens them). */
  async close(): Promise<void> {
    const h = this.log;
    this.log = null;
    if (this.datFd !== null) closeSync(this.datFd);
    this.datFd = null;
    await h?.close();
  }

  private async compact(): Promise<void> {
    await this.ensureDirs();
    await this.writeSnapshot(this.m);
    for (const name of MAPS) this.changed[name].clear();
    this.savedCheckpoints = this.m.checkpoints.length;
  }

  /** Creates the layer's folders on first write (a session that never wrote leaves nothing behind). */
  async ensureDirs(): Promise<void> {
    if (this.made) return;
    await mkdir(this.objectsDir, { recursive: true });
    this.made = true;
  }

  private objectPath(oid: string): string {
    return path.join(this.objectsDir, oid);
  }

  /** True when the object is a blobs.dat record (small), false when it is a file. */
  isInline(oid: string): boolean {
    return this.m.blobs[oid] !== undefined;
  }

  /** An object's bytes. */
  async readObject(oid: string): Promise<Buffer> {
    const loc = this.m.blobs[oid];
    if (!loc) return readFile(this.objectPath(oid));
    const out = Buffer.allocUnsafe(loc[1]);
    if (readSync(this.dat(), out, 0, loc[1], loc[0]) !== loc[1])
      throw new Error(`blobs.dat is shorter than its manifest says (object ${oid})`);
    return out;
  }

  /** Where bytes for a real path come from when an accept or undo writes this object. */
  async objectSource(oid: string): Promise<{ bytes: Buffer } | { object: string }> {
    return this.isInline(oid) ? { bytes: await this.readObject(oid) } : { object: this.objectPath(oid) };
  }

  /** A file holding the object (for tools that take paths, like `git merge-file`); small objects are copied out once. */
  async objectFile(oid: string): Promise<string> {
    const file = this.objectPath(oid);
    if (this.isInline(oid) && !(await exists(file))) {
      await this.ensureDirs();
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, await this.readObject(oid));
      await rename(tmp, file);
    }
    return file;
  }

  /** Marks a path changed since the last checkpoint; a write through the view wins over a review action. */
  markDirty(rel: string, by: 'view' | 'review' = 'view'): void {
    if (by === 'view') this.m.dirty[rel] = 1;
    else if (this.m.dirty[rel] !== 1) this.m.dirty[rel] = 2;
  }

  /** Stores bytes held in memory; returns their blob id. */
  async putBytes(data: Uint8Array): Promise<string> {
    await this.ensureDirs();
    const oid = blobOid(data);
    if (this.stored.has(oid) || this.m.blobs[oid]) return oid;
    if (data.byteLength <= INLINE_BYTES) {
      const fd = this.dat();
      const head = Buffer.alloc(DAT_HEADER);
      head.writeUInt32BE(DAT_MAGIC, 0);
      head.writeUInt32BE(data.byteLength, 4);
      head.write(oid, 8, 'hex');
      // The offset is taken before writing, so concurrent puts never overlap; a failed write leaves a hole nobody names.
      const at = this.datSize;
      this.datSize += DAT_HEADER + data.byteLength;
      const n = writevSync(fd, [head, data], at);
      if (n !== DAT_HEADER + data.byteLength)
        throw new Error(`short write to blobs.dat (${n} of ${DAT_HEADER + data.byteLength} bytes)`);
      this.m.blobs[oid] = [at + DAT_HEADER, data.byteLength];
      return oid;
    }
    const file = this.objectPath(oid);
    // Written without looking first up to REWRITE_BYTES: renaming identical bytes over it is harmless
    // and costs one round trip less than a stat that almost always misses (new content).
    if (data.byteLength <= REWRITE_BYTES || !(await exists(file))) {
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, data);
      await rename(tmp, file);
    }
    this.stored.add(oid);
    return oid;
  }

  /** Copies a file into the store in one streamed pass (hash while copying). */
  async putFile(abs: string, size: number): Promise<string> {
    await this.ensureDirs();
    const tmp = path.join(this.objectsDir, `in-${randomBytes(6).toString('hex')}.tmp`);
    const h = createHash('sha1').update(`blob ${size}\0`);
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        cb(null, chunk);
      },
    });
    await pipeline(createReadStream(abs), hasher, createWriteStream(tmp));
    const oid = h.digest('hex');
    const file = this.objectPath(oid);
    if (await exists(file)) await rm(tmp, { force: true });
    else await rename(tmp, file);
    this.stored.add(oid);
    return oid;
  }

  /** Snapshots the real path now (file bytes copied into the store); `known` = its lstat when the caller has it (null: absent). */
  async captureBase(rel: string, known?: Stats | null): Promise<Base> {
    const abs = path.join(this.root, rel);
    let st = known;
    if (st === undefined) st = await lstat(abs).catch(() => null);
    if (!st) return { type: 'none' };
    if (st.isDirectory()) return { type: 'dir' };
    const meta = { mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
    if (st.isSymbolicLink())
      return { type: 'symlink', oid: await this.putBytes(Buffer.from(await readlink(abs))), ...meta };
    if (!st.isFile()) return { type: 'none' };
    // Small files in one read; large ones streamed (hash while copying) so memory stays flat.
    const oid =
      st.size <= INLINE_BYTES
        ? await this.putBytes(readFileSync(abs))
        : st.size <= 1024 * 1024
          ? await this.putBytes(await readFile(abs))
          : await this.putFile(abs, st.size);
    return { type: 'file', oid, ...meta };
  }

  /** The base of a first edit: what the agent read, else the real path now. */
  async baseFor(rel: string, known?: Stats | null): Promise<Base> {
    return this.m.reads[rel] ?? (await this.captureBase(rel, known));
  }

  /** True when the real path still holds exactly `base` (stat first, hash only when stat differs). */
  async realMatches(rel: string, base: Base): Promise<boolean> {
    const abs = path.join(this.root, rel);
    let st;
    try {
      st = await lstat(abs);
    } catch {
      return base.type === 'none';
    }
    if (base.type === 'none') return false;
    if (base.type === 'dir') return st.isDirectory();
    if (base.type === 'symlink') return st.isSymbolicLink() && blobOid(await readlink(abs)) === base.oid;
    if (!st.isFile() || st.size !== base.size || (st.mode & 0o7777) !== base.mode) return false;
    if (st.mtimeMs === base.mtimeMs && st.ino === base.ino) return true;
    return (await fileBlobOid(abs, st.size)) === base.oid;
  }
}

export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Serializes async work per key (one session's layer mutations, accepts, checkpoints). */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
