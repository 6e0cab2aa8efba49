// A module compiled in a sandbox worker, from its file: the read, the hash that checks it, the memory rewrite and
// the compilation of CPython's 14 MB were ~35 ms of the daemon's main thread on the way to python's first call
// (and more on a loaded machine), in the minutes right after a start when that thread serves everything else.
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { importMemory } from '../memory-import.js';
import { limitMemoryPages, WasmRewriteError } from '../memory-limit.js';
import { wasm } from '../host/wasm-api.js';
import type { Compile, CompileReply } from './protocol.js';

/**
 * The file's bytes, at most `size` + 1 of them (one more shows a file that grew): opened without following a
 * symlink and without blocking (a FIFO swapped in would otherwise hang the open), read only when it is a
 * regular file.
 */
function readRegular(path: string, size: number): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    if (!fstatSync(fd).isFile()) throw new Error('not a regular file');
    const buf = Buffer.allocUnsafe(size + 1);
    let read = 0;
    for (let n = -1; n !== 0 && read < buf.length; read += n) n = readSync(fd, buf, read, buf.length - read, null);
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** Reads, checks and compiles `req.path` (see Compile); what is compiled is exactly what was hashed. */
export async function compileFile(req: Omit<Compile, 'type' | 'port'>): Promise<CompileReply> {
  let bytes: Buffer;
  try {
    bytes = readRegular(req.path, req.size);
  } catch (e) {
    return { ok: false, reason: 'file_mismatch', message: `cannot read the module: ${(e as Error).message}` };
  }
  if (bytes.length !== req.size || createHash('sha256').update(bytes).digest('hex') !== req.sha256)
    return { ok: false, reason: 'file_mismatch', message: 'the module file does not match its signed manifest' };
  try {
    const imported = importMemory(bytes, req.maxPages);
    const module = await wasm.compile(imported?.bytes ?? limitMemoryPages(bytes, req.maxPages));
    return { ok: true, module, ...(imported ? { memory: imported.memory } : {}) };
  } catch (e) {
    if (e instanceof WasmRewriteError) return { ok: false, reason: e.reason, message: e.message, details: e.details };
    return { ok: false, reason: 'invalid_module', message: `not a valid WebAssembly module: ${(e as Error).message}` };
  }
}
