import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  createWriteStream,
  fstatSync,
  ftruncateSync,
  openSync,
  readSync,
  statSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../state/index.js';
import { writeFileAtomic, mkdirAll } from '../state/index.js';
import { typedFsError } from '../state/index.js';
import { type FaultHook, noSpaceError } from './fault.js';
import { blobOid } from './git.js';
import type { Manifest } from './layer-types.js';

/**
 * Objects up to this size are records in `blobs.dat` (one append-only file per session), written and
 * read with synchronous positional calls: a few µs on the event loop, where a file per object costs
 * an inode (~0.15 ms to create here, and a 4 KiB block for a 1.5 KiB file) and every async call a
 * threadpool round trip. Larger objects are files `objects/<blob id>`.
 */
export const INLINE_BYTES = 64 * 1024;
/** A blobs.dat record: magic "SBX1", u32 length, 20-byte blob id, then the bytes. */
const DAT_MAGIC = 0x53425831;
export const DAT_HEADER = 28;
/** putBytes writes file objects up to this size without first looking whether they exist. */
const REWRITE_BYTES = 256 * 1024;

export interface BlobStoreOptions {
  logger?: Logger;
  faults?: FaultHook;
}

/**
 * Why: the content-addressed bytes of one session's layer — agent versions and bases — in one
 * append-only record file plus a file per large object. The manifest's `blobs` map names each record;
 * a record whose write failed is cut off at once, and a torn tail (a crash, a full disk) is cut at
 * open, so a new record never follows a torn one.
 */
export class BlobStore {
  readonly objectsDir: string;
  private datFd: number | null = null;
  private datSize = 0;
  /** A failed write could not be cut back: the tail is repaired before the next record is written. */
  private tailSuspect = false;
  private made = false;
  /** Object ids this process wrote or found in `objects/` (no second look on disk). */
  private readonly stored = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly m: Manifest,
    private readonly opts: BlobStoreOptions = {},
  ) {
    this.objectsDir = path.join(dir, 'objects');
  }

  get datPath(): string {
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

  /**
   * Leftovers of interrupted work: object files a compaction wrote but a crash kept the manifest from
   * naming (or left behind after renaming its successor), and temp files of objects being copied in.
   */
  async removeStrays(): Promise<void> {
    const current = this.m.dat ?? 'blobs.dat';
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const n of names)
      if (/^blobs(-[0-9a-f]+)?\.dat(\.tmp)?$/.test(n) && n !== current)
        await rm(path.join(this.dir, n), { force: true });
    for (const n of await readdir(this.objectsDir).catch(() => [] as string[]))
      if (n.endsWith('.tmp')) await rm(path.join(this.objectsDir, n), { force: true });
  }

  /**
   * Records appended after the last save (a crash before the manifest line that names them) are found
   * again by reading past the last record the manifest names: an object written before a journal record
   * that names it (an accept's `before` bytes) is never lost. A torn record ends the scan and is cut off
   * (logged), so the next record follows the last good one.
   */
  repairTail(): void {
    let end = 0;
    for (const [at, len] of Object.values(this.m.blobs)) end = Math.max(end, at + len);
    let fd: number;
    try {
      fd = openSync(this.datPath, constants.O_RDWR);
    } catch {
      this.tailSuspect = false;
      return;
    }
    try {
      const size = fstatSync(fd).size;
      if (size > end) {
        const tail = Buffer.alloc(size - end);
        const got = readSync(fd, tail, 0, tail.byteLength, end);
        let pos = 0;
        while (pos + DAT_HEADER <= got && tail.readUInt32BE(pos) === DAT_MAGIC) {
          const len = tail.readUInt32BE(pos + 4);
          const at = pos + DAT_HEADER;
          if (at + len > got) break;
          const oid = tail.toString('hex', pos + 8, pos + DAT_HEADER);
          if (blobOid(tail.subarray(at, at + len)) !== oid) break;
          if (!this.m.blobs[oid]) this.m.blobs[oid] = [end + at, len];
          pos = at + len;
        }
        if (pos < got) {
          ftruncateSync(fd, end + pos);
          this.opts.logger?.warn(
            `shadow: ${this.datPath} ended in a torn record (${got - pos} bytes at offset ${end + pos}); cut off`,
          );
        }
      }
      this.tailSuspect = false;
    } finally {
      closeSync(fd);
    }
  }

  /** The session's blobs.dat, opened on first use (read + positional write; never O_APPEND, whose pwrite ignores the offset on Linux). */
  private dat(): number {
    if (this.datFd === null) {
      if (this.tailSuspect) this.repairTail();
      this.datFd = openSync(this.datPath, constants.O_RDWR | constants.O_CREAT, 0o644);
      this.datSize = fstatSync(this.datFd).size;
    }
    return this.datFd;
  }

  /** Creates the layer's folders on first write (a session that never wrote leaves nothing behind). */
  async ensureDirs(): Promise<void> {
    if (this.made) return;
    await mkdirAll(this.objectsDir);
    this.made = true;
  }

  objectPath(oid: string): string {
    return path.join(this.objectsDir, oid);
  }

  /** True when the object is a blobs.dat record (small), false when it is a file. */
  isInline(oid: string): boolean {
    return this.m.blobs[oid] !== undefined;
  }

  /** Raw bytes at a position of the current object file (compaction copies whole records with it). */
  readRaw(at: number, len: number): Buffer {
    const out = Buffer.allocUnsafe(len);
    if (readSync(this.dat(), out, 0, len, at) !== len)
      throw new Error(`${this.datPath} is shorter than its manifest says (${len} bytes at ${at})`);
    return out;
  }

  /** An object's bytes. */
  async readObject(oid: string): Promise<Buffer> {
    const loc = this.m.blobs[oid];
    if (!loc) return readFile(this.objectPath(oid));
    return this.readRaw(loc[0], loc[1]);
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
      // A cache of bytes the store holds anyway: atomic (never torn), not worth an fsync.
      await writeFileAtomic(file, await this.readObject(oid), { durability: 'none' }).catch(async (e: unknown) => {
        throw await typedFsError(e, file);
      });
    }
    return file;
  }

  /** Stores bytes held in memory; returns their blob id. */
  async putBytes(data: Uint8Array): Promise<string> {
    await this.ensureDirs();
    const oid = blobOid(data);
    if (this.stored.has(oid) || this.m.blobs[oid]) return oid;
    if (data.byteLength <= INLINE_BYTES) {
      try {
        this.append(oid, data);
      } catch (e) {
        throw await typedFsError(e, this.datPath);
      }
      return oid;
    }
    const file = this.objectPath(oid);
    // Written without looking first up to REWRITE_BYTES: renaming identical bytes over it is harmless
    // and costs one round trip less than a stat that almost always misses (new content).
    if (data.byteLength <= REWRITE_BYTES || !(await exists(file))) {
      try {
        this.opts.faults?.before('object.write', file, data.byteLength);
        await writeFileAtomic(file, data, { durability: 'none' });
      } catch (e) {
        throw await typedFsError(e, file);
      }
    }
    this.stored.add(oid);
    return oid;
  }

  /**
   * Appends one record synchronously (nothing interleaves with it). The offset is taken from the
   * known end; a write that fails or comes up short is cut back off at once, so no record ever
   * follows a torn one (if even the cut fails, the tail is repaired before the next write).
   */
  private append(oid: string, data: Uint8Array): void {
    const fd = this.dat();
    const head = Buffer.alloc(DAT_HEADER);
    head.writeUInt32BE(DAT_MAGIC, 0);
    head.writeUInt32BE(data.byteLength, 4);
    head.write(oid, 8, 'hex');
    const at = this.datSize;
    const total = DAT_HEADER + data.byteLength;
    try {
      const cut = this.opts.faults?.before('blob.write', this.datPath, total);
      let n: number;
      if (typeof cut === 'number') {
        n = writeSync(fd, Buffer.concat([head, data]).subarray(0, cut), 0, cut, at);
        throw noSpaceError(this.datPath);
      } else n = writevSync(fd, [head, data], at);
      if (n !== total) throw noSpaceError(this.datPath);
    } catch (e) {
      try {
        ftruncateSync(fd, at);
      } catch {
        this.tailSuspect = true;
        this.closeDat();
      }
      throw e;
    }
    this.datSize = at + total;
    this.m.blobs[oid] = [at + DAT_HEADER, data.byteLength];
  }

  /** Copies a stream of `size` bytes into the store in one pass (hashed while copying); memory stays flat. */
  async putStream(source: Readable, size: number): Promise<string> {
    await this.ensureDirs();
    const tmp = path.join(this.objectsDir, `in-${randomBytes(6).toString('hex')}.tmp`);
    const h = createHash('sha1').update(`blob ${size}\0`);
    const hasher = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      this.opts.faults?.before('object.write', tmp, size);
      await pipeline(source, hasher, createWriteStream(tmp, { mode: 0o600 }));
    } catch (e) {
      await rm(tmp, { force: true });
      throw await typedFsError(e, tmp);
    }
    const oid = h.digest('hex');
    const file = this.objectPath(oid);
    if (await exists(file)) await rm(tmp, { force: true });
    else await rename(tmp, file);
    this.stored.add(oid);
    return oid;
  }

  /** Closes blobs.dat (the next use reopens it). */
  closeDat(): void {
    if (this.datFd !== null) closeSync(this.datFd);
    this.datFd = null;
  }

  /** After a compaction renamed its new object file into place: later records go there. */
  switchedTo(): void {
    this.closeDat();
  }

  /** Forgets that an object file exists (compaction removed it). */
  forget(oid: string): void {
    this.stored.delete(oid);
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
