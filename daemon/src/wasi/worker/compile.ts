// A module compiled in a sandbox worker, from its file: the read, the hash that checks it, the memory rewrite and
// the compilation of CPython's 14 MB were ~35 ms of the daemon's main thread on the way to python's first call
// (and more on a loaded machine), in the minutes right after a start when that thread serves everything else.
import { createHash } from 'node:crypto';
import { fstatSync, readSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { importMemory } from '../memory-import.js';
import { limitMemoryPages, WasmRewriteError } from '../memory-limit.js';
import { wasm } from '../host/wasm-api.js';
import { identityOf, type FileIdentity } from '../host/host-file.js';
import type { Compile, CompileReply } from './protocol.js';

/**
 * Space left in front of a module's bytes as read: the memory rewrite grows the sections before the code by a few
 * dozen bytes, and writes them there instead of copying the module (importMemory's `room`).
 */
const HEADROOM = 1024;

/**
 * The bytes of the file open at `fd`, at most `size` + 1 of them (one more shows a file that grew), read only when it
 * is a regular file, from its start; its identity taken before the read and required the same after it. `room`: the
 * buffer they were read into, HEADROOM bytes in front of them.
 */
function readRegular(fd: number, size: number): { bytes: Buffer; room: Buffer; file: FileIdentity } {
  const st = fstatSync(fd, { bigint: true });
  if (!st.isFile()) throw new Error('not a regular file');
  // Never from Buffer's shared pool (a small module's would be): release() hands this memory back alone.
  const room = Buffer.allocUnsafeSlow(HEADROOM + size + 1);
  const buf = room.subarray(HEADROOM);
  let read = 0;
  for (let n = -1; n !== 0 && read < buf.length; read += n) n = readSync(fd, buf, read, buf.length - read, read);
  const file = identityOf(st);
  const after = identityOf(fstatSync(fd, { bigint: true }));
  if (after.mtimeNs !== file.mtimeNs || after.ctimeNs !== file.ctimeNs) throw new Error('changed while read');
  return { bytes: buf.subarray(0, read), room, file };
}

/**
 * Reads, checks and compiles the file open at `req.fd` (see Compile); what is compiled is exactly what was hashed.
 * When asked, and the module imports its memory and its data segments can be written after instantiation, they are
 * left out of the compiled module and the reply's `data` names the same descriptor to read them from (the pool, which
 * opened it, then hands it to the caller instead of closing it).
 */
export async function compileFile(req: Omit<Compile, 'type' | 'port'>): Promise<CompileReply> {
  let read: ReturnType<typeof readRegular>;
  try {
    read = readRegular(req.fd, req.size);
  } catch (e) {
    return { ok: false, reason: 'file_mismatch', message: `cannot read the module: ${(e as Error).message}` };
  }
  try {
    return await compileRead(req, read);
  } finally {
    release(read.room.buffer);
  }
}

async function compileRead(
  req: Omit<Compile, 'type' | 'port'>,
  { bytes, room, file }: ReturnType<typeof readRegular>,
): Promise<CompileReply> {
  if (bytes.length !== req.size || createHash('sha256').update(bytes).digest('hex') !== req.sha256)
    return { ok: false, reason: 'file_mismatch', message: 'the module file does not match its signed manifest' };
  try {
    // Rewritten inside the buffer it was read into (`bytes` is not the file's any more afterwards; the data segments
    // are read again from the descriptor). Null, and nothing overwritten, when the module keeps its own memory.
    const imported = importMemory(bytes, req.maxPages, { detachData: req.detachData === true, room });
    const module = await wasm.compile(imported?.bytes ?? limitMemoryPages(bytes, req.maxPages));
    if (!imported) return { ok: true, module };
    return {
      ok: true,
      module,
      memory: imported.memory,
      ...(imported.segments ? { data: { fd: req.fd, file, segments: imported.segments } } : {}),
    };
  } catch (e) {
    if (e instanceof WasmRewriteError) return { ok: false, reason: e.reason, message: e.message, details: e.details };
    return { ok: false, reason: 'invalid_module', message: `not a valid WebAssembly module: ${(e as Error).message}` };
  }
}

/**
 * Gives `buffer`'s memory back now, not at a garbage collection: compiling copied what it needed (V8 keeps its own
 * copy of a module's bytes), and the read is CPython's 13 MiB. The worker that compiled it then waits for its jobs,
 * allocating nothing, so V8 would not collect it for as long as it waits. Transferred to a channel that is closed at
 * once, the buffer is detached here and its memory freed with the message nobody receives (no API frees an
 * ArrayBuffer directly; ArrayBuffer.prototype.transfer is not in Node 20's V8).
 */
function release(buffer: ArrayBufferLike): void {
  try {
    const { port1, port2 } = new MessageChannel();
    if (buffer instanceof ArrayBuffer) port1.postMessage(null, [buffer]);
    port1.close();
    port2.close();
  } catch {
    // Memory that stays until a collection is only memory.
  }
}
