// Whole-buffer reads and writes on an open file: the one place the "short reads and writes are retried, a write
// that takes no byte is a full disk" loops live (they were written four times: the state files, the shadow's
// staged copies, the bundle store and python's stdlib). Node has no such call: fs.writeSync/write and
// FileHandle.read return how much they moved and leave the rest to the caller, and readFile reads in 512 KiB
// steps into a Buffer of its choosing (no SharedArrayBuffer, a thread-pool round trip per step).
import { write, writeSync } from 'node:fs';
import type { Hash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';

/** An ENOSPC error as the file system reports it (code, errno, syscall, path). */
export function noSpaceError(file: string, syscall = 'write'): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`ENOSPC: no space left on device, ${syscall} '${file}'`);
  e.code = 'ENOSPC';
  e.errno = -28;
  e.syscall = syscall;
  e.path = file;
  return e;
}

/**
 * Writes the first `length` bytes of `bytes` to `fd` at its position. A short write is retried from where it
 * stopped; a write that takes no byte at all is the disk refusing (ENOSPC, named `file`): a loop on 0 would
 * never end.
 */
export function writeAllSync(fd: number, bytes: Uint8Array, length = bytes.byteLength, file = ''): void {
  for (let at = 0; at < length;) {
    const n = writeSync(fd, bytes, at, length - at);
    if (n <= 0) throw noSpaceError(file);
    at += n;
  }
}

const writeOnce = (fd: number, bytes: Uint8Array, at: number, length: number): Promise<number> =>
  new Promise((resolve, reject) => write(fd, bytes, at, length - at, null, (e, n) => (e ? reject(e) : resolve(n))));

/** writeAllSync off the event loop (a thread-pool write per step), for bytes that may be large. */
export async function writeAll(fd: number, bytes: Uint8Array, length = bytes.byteLength, file = ''): Promise<void> {
  for (let at = 0; at < length;) {
    const n = await writeOnce(fd, bytes, at, length);
    if (n <= 0) throw noSpaceError(file);
    at += n;
  }
}

/**
 * Reads a whole file into the buffer `alloc(size)` gives, `size` being what fstat says the file holds, in one
 * read call where the kernel allows. Bytes appended meanwhile are not read; a file that shrank meanwhile gives
 * fewer: `read` says how many (the caller keeps that many, as readFile would have returned them).
 */
export async function readWholeInto<B extends Uint8Array>(
  file: string | FileHandle,
  alloc: (size: number) => B,
): Promise<{ bytes: B; read: number }> {
  // An open handle is the caller's (it is not closed here): what was read is then the file it checked.
  const fh = typeof file === 'string' ? await open(file, 'r') : file;
  try {
    const { size } = await fh.stat();
    const bytes = alloc(size);
    let read = 0;
    while (read < size) {
      const { bytesRead } = await fh.read(bytes, read, size - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return { bytes, read };
  } finally {
    if (typeof file === 'string') await fh.close();
  }
}

/**
 * An open file's bytes from `start` to `end` (default: its size at the call), as views of one reused buffer of
 * `chunkBytes`: a view is valid until the next one is asked for (hash it, write it, or copy it first). Large files
 * are then streamed through a few pages, where a whole read faults in a fresh page per 4 KiB: python's 23 MB bundle
 * archive read whole and hashed twice took ~140 ms here, in 1 MiB steps ~45 ms (a probe, five runs each). The handle
 * stays open.
 */
export async function* fileChunks(
  fh: FileHandle,
  end?: number,
  start = 0,
  chunkBytes = 1 << 20,
): AsyncGenerator<Buffer, void, undefined> {
  const last = end ?? (await fh.stat()).size;
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, last - start)));
  for (let pos = start; pos < last;) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.byteLength, last - pos), pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

/** Feeds an open file's bytes up to `end` (default: its size) to `hash`, through fileChunks; returns how many it read. */
export async function hashFileHandle(hash: Hash, fh: FileHandle, end?: number): Promise<number> {
  let size = 0;
  for await (const chunk of fileChunks(fh, end)) {
    hash.update(chunk);
    size += chunk.length;
  }
  return size;
}
