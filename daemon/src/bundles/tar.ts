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

/**
 * Reads a bundle archive into memory. Only regular files (and directory entries, ignored) are
 * allowed; symlinks, hard links, devices, FIFOs, `..`, absolute and duplicate paths are refused.
 */
export function readTar(buf: Buffer, maxEntries = 10_000): TarEntry[] {
  const out: TarEntry[] = [];
  const seen = new Set<string>();
  let off = 0;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    if (parseInt(field(h, 148, 8).trim(), 8) !== sum)
      throw bad('archive header checksum mismatch', { offset: off }, 'archive_invalid');
    const prefix = field(h, 345, 155);
    const name = field(h, 0, 100);
    const path = prefix ? `${prefix}/${name}` : name;
    const type = String.fromCharCode(h[156] || 48);
    const size = parseInt(field(h, 124, 12).trim() || '0', 8);
    if (!Number.isSafeInteger(size) || size < 0 || off + BLOCK + size > buf.length)
      throw bad('archive entry size out of range', { path }, 'archive_invalid');
    off += BLOCK;
    if (type === '5') {
      if (!isSafeRelativePath(path.replace(/\/$/, '')))
        throw bad(`archive directory ${JSON.stringify(path)} is not a safe relative path`, { path });
      continue;
    }
    if (type !== '0')
      throw bad(`archive entry ${JSON.stringify(path)} is not a regular file (type ${JSON.stringify(type)})`, {
        path,
        type,
      });
    if (!isSafeRelativePath(path))
      throw bad(`archive path ${JSON.stringify(path)} is not a normalized relative path`, { path });
    if (seen.has(path)) throw bad(`duplicate archive path ${path}`, { path });
    seen.add(path);
    if (out.length >= maxEntries) throw bad('too many archive entries', {}, 'archive_invalid');
    out.push({ path, bytes: buf.subarray(off, off + size) }); // a view: no copy of the payload
    off += Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}
