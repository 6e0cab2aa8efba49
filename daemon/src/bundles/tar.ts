import { ErrorCodes, type ReasonOf, ShadowboxError } from '../errors.js';
import { isSafeRelativePath } from './manifest.js';

/** One regular file in a bundle archive. */
export interface TarEntry {
  path: string;
  bytes: Buffer;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

function splitName(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  throw new ShadowboxError(ErrorCodes.BundleInvalid, 'path_too_long', `path too long for ustar: ${path}`);
}

function header(path: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  const { name, prefix } = splitName(path);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(mtime, 12), 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

/**
 * A deterministic ustar archive: entries sorted by path bytes, regular files only, mode 0644,
 * uid/gid 0, no user names, every mtime = SOURCE_DATE_EPOCH. Same inputs, same bytes.
 */
export function writeTar(entries: TarEntry[], mtime: number): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const parts: Buffer[] = [];
  for (const e of sorted) {
    parts.push(header(e.path, e.bytes.length, mtime), e.bytes);
    const pad = (BLOCK - (e.bytes.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

function field(h: Buffer, off: number, len: number): string {
  const raw = h.subarray(off, off + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul === -1 ? len : nul).toString('utf8');
}

function bad(
  message: string,
  details: Record<string, unknown> = {},
  reason: ReasonOf<'BundleVerificationFailed'> = 'invalid_path',
): ShadowboxError {
  return new ShadowboxError(ErrorCodes.BundleVerificationFailed, reason, message, details);
}

/** A piece of one regular file's bytes, as the archive streams past: a view into the chunk it came in. */
export interface TarPiece {
  path: string;
  /** The file's size from its header. */
  size: number;
  bytes: Buffer;
  /** The first piece of the file (a file of size 0 is one piece, first and last). */
  first: boolean;
  last: boolean;
}

/**
 * Reads a bundle archive as it streams in, chunk by chunk, never holding more than a header: `write` returns the
 * pieces of regular files in the chunk (views into it: use them before the chunk's buffer is reused). Only regular
 * files (and directory entries, ignored) are allowed; symlinks, hard links, devices, FIFOs, `..`, absolute and
 * duplicate paths are refused, and so is an archive that ends inside a header or a file (`end`). What follows the
 * end-of-archive block is not read. Hand-written, as `writeTar` is: the ustar subset it writes is ~60 lines, and
 * the tar packages on npm accept what an installer must refuse (links, long-name extensions) and write to disk
 * themselves, where every byte here goes to a hash and a staging folder first.
 */
export class TarReader {
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** The file being read (null between entries) and its bytes still to come; `pad`, the padding after it. */
  private file: { path: string; size: number; left: number } | null = null;
  private pad = 0;
  /** Bytes of the archive consumed so far (for the refusals' `offset`). */
  private offset = 0;
  private done = false;
  private readonly seen = new Set<string>();

  constructor(private readonly maxEntries = 10_000) {}

  write(chunk: Buffer): TarPiece[] {
    const out: TarPiece[] = [];
    let at = 0;
    while (at < chunk.length && !this.done) {
      const from = at;
      if (this.file) {
        const n = Math.min(this.file.left, chunk.length - at);
        const first = this.file.left === this.file.size;
        this.file.left -= n;
        const last = this.file.left === 0;
        out.push({ path: this.file.path, size: this.file.size, bytes: chunk.subarray(at, at + n), first, last });
        at += n;
        if (last) this.file = null;
      } else if (this.pad > 0) {
        const n = Math.min(this.pad, chunk.length - at);
        this.pad -= n;
        at += n;
      } else {
        const n = Math.min(BLOCK - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + n);
        this.headerFill += n;
        at += n;
        if (this.headerFill === BLOCK) {
          this.headerFill = 0;
          const empty = this.readHeader(this.offset + (at - from) - BLOCK);
          if (empty) out.push({ ...empty, bytes: chunk.subarray(at, at), first: true, last: true });
        }
      }
      this.offset += at - from;
    }
    return out;
  }

  /** The archive ended: refused if it ended inside a header or a file. */
  end(): void {
    if (this.done) return;
    if (this.file || this.pad > 0 || this.headerFill > 0)
      throw bad('archive ends inside an entry', { offset: this.offset }, 'archive_invalid');
  }

  /** Checks the header just read; returns a file of size 0 (it has no data to come), else null. */
  private readHeader(offset: number): { path: string; size: number } | null {
    const h = this.header;
    if (h.every((b) => b === 0)) {
      this.done = true;
      return null;
    }
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (parseInt(field(h, 148, 8).trim(), 8) !== sum)
      throw bad('archive header checksum mismatch', { offset }, 'archive_invalid');
    const prefix = field(h, 345, 155);
    const name = field(h, 0, 100);
    const path = prefix ? `${prefix}/${name}` : name;
    const type = String.fromCharCode(h[156] || 48);
    const size = parseInt(field(h, 124, 12).trim() || '0', 8);
    if (!Number.isSafeInteger(size) || size < 0)
      throw bad('archive entry size out of range', { path }, 'archive_invalid');
    if (type === '5') {
      if (!isSafeRelativePath(path.replace(/\/$/, '')))
        throw bad(`archive directory ${JSON.stringify(path)} is not a safe relative path`, { path });
      this.pad = Math.ceil(size / BLOCK) * BLOCK;
      return null;
    }
    if (type !== '0')
      throw bad(`archive entry ${JSON.stringify(path)} is not a regular file (type ${JSON.stringify(type)})`, {
        path,
        type,
      });
    if (!isSafeRelativePath(path))
      throw bad(`archive path ${JSON.stringify(path)} is not a normalized relative path`, { path });
    if (this.seen.has(path)) throw bad(`duplicate archive path ${path}`, { path });
    if (this.seen.size >= this.maxEntries) throw bad('too many archive entries', {}, 'archive_invalid');
    this.seen.add(path);
    this.pad = Math.ceil(size / BLOCK) * BLOCK - size;
    if (size === 0) return { path, size };
    this.file = { path, size, left: size };
    return null;
  }
}

/** Reads a whole archive held in memory (TarReader over one chunk): each file's bytes are a view, not a copy. */
export function readTar(buf: Buffer, maxEntries = 10_000): TarEntry[] {
  const reader = new TarReader(maxEntries);
  const pieces = reader.write(buf);
  reader.end();
  return pieces.map((p) => ({ path: p.path, bytes: p.bytes }));
}
