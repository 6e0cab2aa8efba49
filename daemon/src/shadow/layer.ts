import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readFile, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
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
}

export interface Checkpoint {
  id: string;
  turnId: string;
  summary: string;
  time: string;
  files: string[];
}

/** The persisted state of one session's layer (layer.json). */
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
  dirty: string[];
  tip: string | null;
  checkpoints: Checkpoint[];
  /** Accept ids, oldest first: the undo stack. */
  accepts: string[];
}

/** Why: one place owns the on-disk layout of a session's layer (manifest, content-addressed objects). */
export class LayerStore {
  readonly objectsDir: string;
  private constructor(
    readonly dir: string,
    readonly root: string,
    public m: Manifest,
  ) {
    this.objectsDir = path.join(dir, 'objects');
  }

  private made = false;

  static async open(dir: string, root: string, sessionId: string): Promise<LayerStore> {
    let m: Manifest;
    try {
      m = JSON.parse(await readFile(path.join(dir, 'layer.json'), 'utf8')) as Manifest;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      m = { version: 1, sessionId, workspace: root, entries: {}, reads: {}, known: {}, committed: {}, dirty: [], tip: null, checkpoints: [], accepts: [] };
    }
    return new LayerStore(dir, root, m);
  }

  /** Persists the manifest atomically (temp + rename). */
  async save(): Promise<void> {
    await this.ensureDirs();
    const file = path.join(this.dir, 'layer.json');
    const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify(this.m));
    await rename(tmp, file);
  }

  /** Creates the layer's folders on first write (a session that never wrote leaves nothing behind). */
  async ensureDirs(): Promise<void> {
    if (this.made) return;
    await mkdir(this.objectsDir, { recursive: true });
    this.made = true;
  }

  objectPath(oid: string): string {
    return path.join(this.objectsDir, oid);
  }

  markDirty(rel: string): void {
    if (!this.m.dirty.includes(rel)) this.m.dirty.push(rel);
  }

  /** Stores bytes held in memory; returns their blob id. */
  async putBytes(data: Uint8Array): Promise<string> {
    await this.ensureDirs();
    const oid = blobOid(data);
    const file = this.objectPath(oid);
    if (!(await exists(file))) {
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, data);
      await rename(tmp, file);
    }
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
    return oid;
  }

  /** Snapshots the real path now (file bytes copied into the store). */
  async captureBase(rel: string): Promise<Base> {
    const abs = path.join(this.root, rel);
    let st;
    try {
      st = await lstat(abs);
    } catch {
      return { type: 'none' };
    }
    if (st.isDirectory()) return { type: 'dir' };
    const meta = { mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
    if (st.isSymbolicLink()) return { type: 'symlink', oid: await this.putBytes(Buffer.from(await readlink(abs))), ...meta };
    if (!st.isFile()) return { type: 'none' };
    return { type: 'file', oid: await this.putFile(abs, st.size), ...meta };
  }

  /** The base of a first edit: what the agent read, else the real path now. */
  async baseFor(rel: string): Promise<Base> {
    return this.m.reads[rel] ?? (await this.captureBase(rel));
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
