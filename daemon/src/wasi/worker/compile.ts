// A module compiled in a sandbox worker, from its file: the read, the hash that checks it, the memory rewrite and
// the compilation of CPython's 14 MB were ~35 ms of the daemon's main thread on the way to python's first call
// (and more on a loaded machine), in the minutes right after a start when that thread serves everything else.
import { createHash } from 'node:crypto';
import { fstatSync, readSync } from 'node:fs';
import { MessageChannel } from 'node:worker_threads';
import { importMemory, scanSegments } from '../memory-import.js';
import { limitMemoryPages, WasmRewriteError } from '../memory-limit.js';
import { wasm } from '../host/wasm-api.js';
import { identityOf, sameIdentity, type FileIdentity } from '../host/host-file.js';
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
  assertUnchanged(fd, file);
  return { bytes: buf.subarray(0, read), room, file };
}

/** Throws unless the file open at `fd` still has the identity `file` it had before it was read. */
function assertUnchanged(fd: number, file: FileIdentity): void {
  if (!sameIdentity(identityOf(fstatSync(fd, { bigint: true })), file)) throw new Error('changed while read');
}

/** The size of the pieces a data section is read in (readStreamed). */
const CHUNK = 1 << 20;
/**
 * Bytes of a piece kept in front of the next one. scanSegments asks for bytes in strictly increasing order, so none
 * is asked for again; a margin, should that change (a byte before the piece is refused, never made up).
 */
const TAIL = 32;

/** What readStreamed read: the module's bytes but for its data section's body, and what that body held. */
interface Streamed {
  bytes: Buffer;
  room: Buffer;
  file: FileIdentity;
  /** SHA-256 (hex) of the whole file, the data section's body with the rest, in file order. */
  sha256: string;
  /** scanSegments' triplets over the data section's body, whose bytes are not in `bytes`. */
  segments: Uint32Array;
}

/**
 * Reads the file open at `fd` as readRegular does, except for the body of its data section (CPython's 9.5 of 14 MB):
 * that goes through one small buffer, reused, into the hash and scanSegments, and is never in `bytes`. Each page of
 * memory touched for the first time costs ~10 µs on the VM this was measured on: the whole file read into new memory,
 * then hashed, took 68–72 ms in a fresh process, the same with the data section passed through a 1 MiB buffer 34–37.
 * The data segments are read again from the file when each instance is made (fillData, under the same identity).
 * Null, with nothing of the file's to trust, for a file this does not apply to (not a module, no data section or more
 * than one, a data section scanSegments refuses, a size that is not `size`): readRegular then reads all of it.
 * Exported for its tests (`chunk`: the size of the pieces).
 */
export function readStreamed(fd: number, size: number, chunk = CHUNK): Streamed | null {
  const st = fstatSync(fd, { bigint: true });
  if (!st.isFile()) throw new Error('not a regular file');
  const room = Buffer.allocUnsafeSlow(HEADROOM + size);
  let streamed: Streamed | null = null;
  try {
    return (streamed = streamInto(fd, size, chunk, identityOf(st), room));
  } finally {
    if (!streamed) release(room.buffer);
  }
}

function streamInto(fd: number, size: number, chunk: number, file: FileIdentity, room: Buffer): Streamed | null {
  const buf = room.subarray(HEADROOM);
  const hash = createHash('sha256');
  /** Bytes of the file read (and hashed) so far, from its start: those before `filled` are in `buf`, but the body's. */
  let filled = 0;
  /** Reads the file on to `to` (at most `size`) into `buf`; false when it ended first. */
  const fill = (to: number): boolean => {
    const start = filled;
    for (let n = -1; n !== 0 && filled < to; filled += n) n = readSync(fd, buf, filled, to - filled, filled);
    hash.update(buf.subarray(start, filled));
    return filled >= to;
  };
  let segments: Uint32Array | null = null;
  if (!fill(Math.min(8, size)) || size < 8 || buf.readUInt32BE(0) !== 0x0061736d || buf[4] !== 1) return null;
  for (let pos = 8; pos < size;) {
    // The section's id and size: at most 6 bytes (the size a LEB128 of at most 5).
    if (!fill(Math.min(pos + 6, size))) return null;
    const id = buf[pos];
    let body = pos + 1;
    let length = 0;
    for (let shift = 0; ; shift += 7) {
      if (body >= filled || shift >= 35) return null;
      const b = buf[body++];
      length += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
    }
    const end = body + length;
    if (end > size) return null;
    if (id !== 11) {
      if (!fill(end)) return null;
    } else {
      if (segments) return null; // a second data section: detachableSegments would refuse it
      // The body from `filled` on, through `piece`: [pieceStart, pieceEnd) of the file, its first bytes the last TAIL
      // of the piece before.
      const piece = Buffer.allocUnsafeSlow(TAIL + Math.max(0, Math.min(chunk, end - filled)));
      try {
        let pieceStart = filled;
        let pieceEnd = filled;
        let short = false;
        const next = (): void => {
          const keep = Math.min(TAIL, pieceEnd - pieceStart);
          piece.copy(piece, 0, pieceEnd - pieceStart - keep, pieceEnd - pieceStart);
          const n = readSync(fd, piece, keep, Math.min(chunk, end - pieceEnd), pieceEnd);
          if (n === 0) short = true;
          hash.update(piece.subarray(keep, keep + n));
          pieceStart = pieceEnd - keep;
          pieceEnd += n;
        };
        const byte = (at: number): number => {
          if (at < filled) return buf[at];
          while (at >= pieceEnd && !short) next();
          if (at < pieceStart) throw new Error('the data section was scanned out of order');
          return at < pieceEnd ? piece[at - pieceStart] : -1; // -1: the file ended first (`short`)
        };
        segments = scanSegments(byte, body, end);
        if (!segments) return null;
        // What the last payloads hold, never asked for: read on, for the hash.
        while (pieceEnd < end && !short) next();
        if (short) return null;
      } finally {
        release(piece.buffer);
      }
      // Past the body: a section header read (fill, above) may already have taken some bytes after it, into `buf`.
      filled = Math.max(filled, end);
    }
    pos = end;
  }
  // A byte past `size` is a file that grew: readRegular reads one more and tells.
  if (!segments || readSync(fd, Buffer.alloc(1), 0, 1, size) !== 0) return null;
  assertUnchanged(fd, file);
  return { bytes: buf, room, file, sha256: hash.digest('hex'), segments };
}

/**
 * Reads, checks and compiles the file open at `req.fd` (see Compile); what is compiled is exactly what was hashed.
 * When asked, and the module imports its memory and its data segments can be written after instantiation, they are
 * left out of the compiled module and the reply's `data` names the same descriptor to read them from (the pool, which
 * opened it, then hands it to the caller instead of closing it).
 */
export async function compileFile(req: Omit<Compile, 'type' | 'port'>): Promise<CompileReply> {
  if (req.detachData) {
    let streamed: Streamed | null;
    try {
      streamed = readStreamed(req.fd, req.size);
    } catch (e) {
      return { ok: false, reason: 'file_mismatch', message: `cannot read the module: ${(e as Error).message}` };
    }
    if (streamed) {
      try {
        const compiled = await compileStreamed(req, streamed);
        if (compiled) return compiled;
      } finally {
        release(streamed.room.buffer);
      }
    }
  }
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

/**
 * Compiles what readStreamed read, its data section left in the file; null when the module is not one that can be
 * (no memory of its own to import, a segment past its initial memory, a start function): its whole file is then read
 * and compiled as it is (compileRead), the data section's body, which is not in these bytes, with it.
 */
async function compileStreamed(
  req: Omit<Compile, 'type' | 'port'>,
  { bytes, room, file, sha256, segments }: Streamed,
): Promise<CompileReply | null> {
  if (sha256 !== req.sha256)
    return { ok: false, reason: 'file_mismatch', message: 'the module file does not match its signed manifest' };
  let imported: ReturnType<typeof importMemory>;
  try {
    imported = importMemory(bytes, req.maxPages, { detachData: true, room, segments });
  } catch {
    return null; // said as compileRead says it, from the whole file
  }
  if (!imported?.segments) return null;
  try {
    const module = await wasm.compile(imported.bytes);
    return { ok: true, module, memory: imported.memory, data: { fd: req.fd, file, segments: imported.segments } };
  } catch (e) {
    return { ok: false, reason: 'invalid_module', message: `not a valid WebAssembly module: ${(e as Error).message}` };
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
 * copy of a module's bytes), and the read is CPython's 4.6 MB (14 MB when read whole). The worker that compiled it
 * then waits for its jobs, allocating nothing, so V8 would not collect it for as long as it waits. Transferred to a
 * channel that is closed at once, the buffer is detached here and its memory freed with the message nobody receives
 * (no API frees an ArrayBuffer directly; ArrayBuffer.prototype.transfer is not in Node 20's V8).
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
