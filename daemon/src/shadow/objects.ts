import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { crc32, createDeflate, deflate, deflateSync } from 'node:zlib';
import { writeFileAtomic, mkdirAll } from '../state/index.js';
import { typedFsError } from '../state/index.js';
import type { FaultHook } from './fault.js';
import { gitMode } from './git.js';
import type { Blob } from './layer-types.js';

/**
 * Writes git objects (loose, zlib) and refs of the shadow repository directly: a checkpoint then
 * costs no process spawns. The repository stays a plain git repository (`git fsck` clean); trees
 * are rebuilt from the session's touched paths only, so the cost follows the number of touched
 * files, never the size of the workspace.
 */
export class ObjectWriter {
  private readonly pending = new Map<string, { type: ObjectType; data: Buffer }>();
  private pendingBytes = 0;

  /**
   * `pack` given: objects are collected and written as one pack (+ index) by `flush()` (and before
   * `setRef`), skipping the ids `pack` knows the repository holds. Otherwise each object is a loose file.
   */
  constructor(
    readonly repoDir: string,
    private readonly pack?: RepoObjects,
    private readonly faults?: FaultHook,
  ) {}

  private file(oid: string): string {
    return path.join(this.repoDir, 'objects', oid.slice(0, 2), oid.slice(2));
  }

  private async has(oid: string): Promise<boolean> {
    return stat(this.file(oid)).then(
      () => true,
      () => false,
    );
  }

  private async put(type: ObjectType, data: Buffer): Promise<string> {
    const header = Buffer.from(`${type} ${data.byteLength}\0`);
    const oid = createHash('sha1').update(header).update(data).digest('hex');
    if (this.pack) await this.queue(oid, type, data);
    else if (!(await this.has(oid))) await this.writeLoose(oid, deflateSync(Buffer.concat([header, data])));
    return oid;
  }

  /** Pack mode: remembers an object for the next pack unless the repository already holds it. */
  private async queue(oid: string, type: ObjectType, data: Buffer): Promise<void> {
    const known = await this.pack!.known();
    if (known.has(oid) || this.pending.has(oid)) return;
    this.pending.set(oid, { type, data });
    this.pendingBytes += data.byteLength;
    if (this.pendingBytes >= PACK_FLUSH_BYTES) await this.flush();
  }

  /**
   * Pack mode: writes the collected objects as one pack and its index (version 2), both fsynced before
   * they are renamed into objects/pack — so a ref set afterwards never points at objects a crash lost.
   * No deltas: each entry is one zlib stream of the whole object.
   */
  async flush(): Promise<void> {
    if (!this.pack || this.pending.size === 0) return;
    const items = [...this.pending];
    this.pending.clear();
    this.pendingBytes = 0;
    const entries = await Promise.all(
      items.map(async ([oid, { type, data }]) => {
        // Small objects deflate inline (~20 µs each; zlib's async API costs a threadpool round trip and a
        // stream set-up per call, ~10× more for a 2 KiB file); larger ones on the threadpool, in parallel.
        const z = data.byteLength <= INLINE_DEFLATE_BYTES ? deflateSync(data) : await deflateAsync(data);
        const entry = Buffer.concat([packEntryHeader(PACK_TYPES[type], data.byteLength), z]);
        return { oid, entry, crc: crc32(entry), offset: 0 };
      }),
    );
    const head = Buffer.alloc(12);
    head.write('PACK', 0, 'latin1');
    head.writeUInt32BE(2, 4);
    head.writeUInt32BE(entries.length, 8);
    let offset = head.byteLength;
    for (const e of entries) {
      e.offset = offset;
      offset += e.entry.byteLength;
    }
    const packHash = createHash('sha1').update(head);
    for (const e of entries) packHash.update(e.entry);
    const packSum = packHash.digest();
    const idx = packIndex(entries, packSum);
    const dir = path.join(this.repoDir, 'objects', 'pack');
    await mkdirAll(dir);
    const name = path.join(dir, `pack-${packSum.toString('hex')}`);
    const tmp = path.join(dir, `tmp_pack_${randomBytes(6).toString('hex')}`);
    // Not writeFileAtomic: the pack and its index are written and fsynced in parallel, then renamed in
    // an order git relies on (a pack without its index is ignored; an index without its pack is not).
    try {
      this.faults?.before('pack.write', `${name}.pack`);
      await Promise.all([
        writeSynced(`${tmp}.pack`, [head, ...entries.map((e) => e.entry), packSum]),
        writeSynced(`${tmp}.idx`, [idx]),
      ]);
      // Git looks at a pack only once its .idx exists: pack first, then index.
      await rename(`${tmp}.pack`, `${name}.pack`);
      await rename(`${tmp}.idx`, `${name}.idx`);
    } catch (e) {
      await rm(`${tmp}.pack`, { force: true });
      await rm(`${tmp}.idx`, { force: true });
      throw await typedFsError(e, `${name}.pack`);
    }
    const known = await this.pack.known();
    for (const e of entries) known.add(e.oid);
  }

  private async writeLoose(oid: string, deflated: Buffer | null, source?: Readable): Promise<void> {
    const file = this.file(oid);
    await mkdirAll(path.dirname(file));
    try {
      this.faults?.before('object.write', file);
      // Content-addressed and named by a ref only after the pack/objects are written: no fsync per object.
      if (deflated) await writeFileAtomic(file, deflated, { mode: 0o444, durability: 'none' });
      else {
        // Streamed (memory stays flat for a large blob), so not the in-memory writeFileAtomic.
        const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
        try {
          await pipeline(source!, createDeflate(), createWriteStream(tmp, { mode: 0o444 }));
          await rename(tmp, file);
        } finally {
          await rm(tmp, { force: true });
        }
      }
    } catch (e) {
      if (!(await this.has(oid))) throw await typedFsError(e, file);
    }
  }

  /** Writes a blob held in memory whose id the caller knows (a layer object). */
  async putBlobBytes(oid: string, data: Buffer): Promise<void> {
    if (this.pack) return this.queue(oid, 'blob', data);
    if (!(await this.has(oid)))
      await this.writeLoose(oid, deflateSync(Buffer.concat([Buffer.from(`blob ${data.byteLength}\0`), data])));
  }

  /** Copies a stored blob (a layer object file whose name is its blob id) into the repository. */
  async putBlobFile(oid: string, src: string): Promise<void> {
    if (this.pack) {
      const known = await this.pack.known();
      if (known.has(oid) || this.pending.has(oid)) return;
      const h = await open(src, 'r');
      let data: Buffer | null = null;
      try {
        if ((await h.stat()).size <= LOOSE_STREAM_BYTES) data = await h.readFile();
      } finally {
        await h.close();
      }
      if (data) return this.queue(oid, 'blob', data);
      // A large blob is streamed into a loose object (memory stays flat), not held for the pack.
      if (!(await this.has(oid))) await this.streamLoose(oid, src, (await stat(src)).size);
      known.add(oid);
      return;
    }
    if (await this.has(oid)) return;
    const st = await stat(src);
    if (st.size <= LOOSE_STREAM_BYTES) {
      await this.writeLoose(oid, deflateSync(Buffer.concat([Buffer.from(`blob ${st.size}\0`), await readFile(src)])));
      return;
    }
    await this.streamLoose(oid, src, st.size);
  }

  private async streamLoose(oid: string, src: string, size: number): Promise<void> {
    const header = Readable.from([Buffer.from(`blob ${size}\0`)]);
    async function* both() {
      for await (const c of header) yield c as Buffer;
      for await (const c of createReadStream(src)) yield c as Buffer;
    }
    await this.writeLoose(oid, null, Readable.from(both()));
  }

  /** Writes the tree of a set of paths (path → blob) and returns its id. */
  async putTree(files: Record<string, Blob>): Promise<string> {
    type Dir = Map<string, Dir | Blob>;
    const top: Dir = new Map();
    for (const [p, b] of Object.entries(files)) {
      const parts = p.split('/');
      let d = top;
      for (const part of parts.slice(0, -1)) {
        let next = d.get(part);
        if (!(next instanceof Map)) d.set(part, (next = new Map()));
        d = next;
      }
      d.set(parts.at(-1)!, b);
    }
    const write = async (d: Dir): Promise<string> => {
      const entries: { name: string; key: string; mode: string; oid: string }[] = [];
      for (const [name, v] of d) {
        if (v instanceof Map) entries.push({ name, key: `${name}/`, mode: '40000', oid: await write(v) });
        else entries.push({ name, key: name, mode: gitMode(v.type, v.mode), oid: v.oid });
      }
      // Git orders tree entries by name bytes, a directory as if its name ended in "/".
      entries.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
      const body = Buffer.concat(
        entries.flatMap((e) => [Buffer.from(`${e.mode} ${e.name}\0`), Buffer.from(e.oid, 'hex')]),
      );
      return this.put('tree', body);
    };
    return write(top);
  }

  async putCommit(tree: string, parent: string | null, message: string, when = new Date()): Promise<string> {
    const ts = `${Math.floor(when.getTime() / 1000)} +0000`;
    const who = `shadowbox <shadowbox@localhost> ${ts}`;
    const text = `tree ${tree}\n${parent ? `parent ${parent}\n` : ''}author ${who}\ncommitter ${who}\n\n${message}`;
    return this.put('commit', Buffer.from(text));
  }

  /** Points a ref at a commit (a loose ref file, replaced atomically); pack mode writes the collected objects first. */
  async setRef(ref: string, oid: string): Promise<void> {
    await this.flush();
    const file = path.join(this.repoDir, ref);
    await mkdirAll(path.dirname(file));
    try {
      this.faults?.before('ref.write', file);
      // Not fsynced (docs/shadow-workspace.md): a crash may lose the last ref update, never point it at missing objects.
      await writeFileAtomic(file, `${oid}\n`, { mode: 0o644, durability: 'none' });
    } catch (e) {
      throw await typedFsError(e, file);
    }
  }
}

type ObjectType = 'blob' | 'tree' | 'commit';
const PACK_TYPES: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3 };
/** Blobs above this size are streamed (never held in memory whole). */
const LOOSE_STREAM_BYTES = 1024 * 1024;
/** A pack is written once this many content bytes wait (bounds memory of a huge checkpoint). */
const PACK_FLUSH_BYTES = 32 * 1024 * 1024;
const deflateAsync = promisify(deflate);
const INLINE_DEFLATE_BYTES = 64 * 1024;

/** The object ids a repository holds in packs: read once from its pack indexes, then kept current by pack writers. */
export class RepoObjects {
  private ids: Promise<Set<string>> | null = null;
  constructor(readonly repoDir: string) {}

  known(): Promise<Set<string>> {
    this.ids ??= readPackIds(path.join(this.repoDir, 'objects', 'pack'));
    return this.ids;
  }

  /** Forgets the cached ids (after a repack dropped or moved objects); the next `known()` reads the indexes again. */
  reset(): void {
    this.ids = null;
  }
}

async function readPackIds(dir: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.startsWith('pack-') && n.endsWith('.idx'));
  } catch {
    return ids;
  }
  for (const n of names) {
    const b = await readFile(path.join(dir, n));
    if (b.readUInt32BE(0) !== 0xff744f63 || b.readUInt32BE(4) !== 2) continue;
    const count = b.readUInt32BE(8 + 255 * 4);
    for (let i = 0, at = 8 + 1024; i < count; i++, at += 20) ids.add(b.toString('hex', at, at + 20));
  }
  return ids;
}

/** A pack entry's header: type in bits 4–6 of the first byte, size in 4 + 7·n bits, little-endian groups. */
function packEntryHeader(type: number, size: number): Buffer {
  const out = [(type << 4) | (size & 0x0f)];
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    out[out.length - 1] |= 0x80;
    out.push(rest & 0x7f);
    rest = Math.floor(rest / 128);
  }
  return Buffer.from(out);
}

/** A version-2 pack index: fan-out, sorted ids, CRC-32s, offsets (64-bit ones in a second table), checksums. */
function packIndex(entries: { oid: string; crc: number; offset: number }[], packSum: Buffer): Buffer {
  const sorted = [...entries].sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
  const n = sorted.length;
  const large = sorted.filter((e) => e.offset >= 0x80000000);
  const b = Buffer.alloc(8 + 1024 + n * 28 + large.length * 8 + 40);
  b.writeUInt32BE(0xff744f63, 0);
  b.writeUInt32BE(2, 4);
  const fan = new Array<number>(256).fill(0);
  for (const e of sorted) fan[parseInt(e.oid.slice(0, 2), 16)]++;
  for (let i = 0, sum = 0; i < 256; i++) b.writeUInt32BE((sum += fan[i]), 8 + i * 4);
  let at = 8 + 1024;
  for (const e of sorted) at += b.write(e.oid, at, 'hex');
  for (const e of sorted) at = b.writeUInt32BE(e.crc >>> 0, at);
  let li = 0;
  for (const e of sorted) at = b.writeUInt32BE(e.offset >= 0x80000000 ? (0x80000000 | li++) >>> 0 : e.offset, at);
  for (const e of large) at = b.writeBigUInt64BE(BigInt(e.offset), at);
  at += packSum.copy(b, at);
  createHash('sha1').update(b.subarray(0, at)).digest().copy(b, at);
  return b;
}

/** Writes a new file (read-only, like git's) and fsyncs it. */
async function writeSynced(file: string, parts: Buffer[]): Promise<void> {
  const h = await open(file, 'wx', 0o444);
  try {
    await h.writeFile(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Creates a bare repository by hand (what `git init --bare` writes that git needs). */
export async function initBareRepo(repoDir: string): Promise<void> {
  try {
    await stat(path.join(repoDir, 'HEAD'));
    return;
  } catch {
    // create below
  }
  for (const d of ['objects/info', 'objects/pack', 'refs/heads', 'refs/tags']) await mkdirAll(path.join(repoDir, d));
  await writeFile(
    path.join(repoDir, 'config'),
    '[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = true\n[gc]\n\tauto = 0\n',
  );
  await writeFile(path.join(repoDir, 'description'), 'shadowbox shadow history\n');
  await writeFile(path.join(repoDir, 'HEAD'), 'ref: refs/heads/main\n');
}
