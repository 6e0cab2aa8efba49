import { capLimits, leb, notWasm, readLeb, section, skipName } from './memory-limit.js';
import { MEMORY_IMPORT, type MemoryLimits } from './worker/protocol.js';

// A module's own memory turned into an import, so a worker can hand one WebAssembly.Memory to instance
// after instance (zeroed in between, worker/spare-memory.ts) instead of allocating one per run: each new
// memory is ~12 MB of external memory to V8 for CPython, and a run each made the worker collect garbage
// every few runs. The module is otherwise unchanged: its data segments still initialise the memory at
// instantiation, and it still exports the memory under its own name.

/** The rewritten module and the limits of the memory it now imports. */
export interface ImportedMemoryModule {
  bytes: Uint8Array;
  memory: MemoryLimits;
  /**
   * Set when the data segments were asked to be detached and could be: the module has no data section, and these are
   * its segments as [memory address, offset in the input, length] triplets, in input order (fillData writes them).
   */
  segments?: Uint32Array;
}

/**
 * The data section's active segments as [memory address, offset in `wasm`, length] triplets, when every one is in
 * memory 0, at a constant address, and inside the memory's `initial` pages: then writing them into a zeroed memory of
 * that size after instantiation is what instantiation would have done (no start function runs in between: a module
 * with one is not detached). Null otherwise, or when a data count section says code may use passive segments.
 * `found`: the segments the caller found as it read the section (scanSegments over its stream; the section's body is
 * then not in `wasm`), checked here as the ones found in `wasm` are.
 */
function detachableSegments(
  wasm: Uint8Array,
  sections: { id: number; body: number; end: number }[],
  initial: number,
  found?: Uint32Array,
): Uint32Array | null {
  if (sections.some((s) => s.id === 8 || s.id === 12)) return null;
  const datas = sections.filter((s) => s.id === 11);
  if (datas.length !== 1) return null;
  const data = datas[0];
  const out = found ?? scanSegments((at) => wasm[at], data.body, data.end);
  if (!out) return null;
  const limit = initial * 65536;
  for (let i = 0; i < out.length; i += 3) {
    if (out[i + 1] < data.body || out[i + 1] + out[i + 2] > data.end || out[i] + out[i + 2] > limit) return null;
  }
  return out;
}

/**
 * The active segments of a data section whose body is [`body`, `end`), as [memory address, offset, length] triplets
 * in section order (on a SharedArrayBuffer: posted with every job without a copy), passive ones skipped: when each is
 * in memory 0 at a constant address; null otherwise, or when the section is malformed. `byte(at)`: the byte at offset
 * `at` (body ≤ at < end), asked for in strictly increasing order over the whole scan; a payload is skipped without
 * being asked for. The table is made from the count the section states (at most 6 bytes for each of its own), before
 * the caller has checked the file's hash when the section streams past (readStreamed): a changed module can make it
 * that large, and nothing it finds is used unless the hash holds. It runs once per compile, on the way to python's
 * first call, over CPython's 10,000 segments in code V8 has not optimised yet: 28–36 ms in a fresh process here (the
 * same with the bytes read inline instead of through `byte`), so the numbers are read with no [value, position] pair
 * per number.
 */
export function scanSegments(byte: (at: number) => number, body: number, end: number): Uint32Array | null {
  let pos = body;
  /** An unsigned LEB128 of at most 5 bytes at `pos` (moved past it); -1 when it is truncated or too long. */
  const u32 = (): number => {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= end) return -1;
      const b = byte(pos++);
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    return -1;
  };
  const count = u32();
  // Each segment takes at least two bytes (its flags and its length).
  if (count < 0 || count * 2 > end - pos) return null;
  const out = new Uint32Array(new SharedArrayBuffer(count * 3 * 4));
  let n = 0;
  for (let i = 0; i < count; i++) {
    if (pos >= end) return null;
    const flags = byte(pos++);
    if (flags === 0x01) {
      // Passive: only memory.init can use it, and code with memory.init needs a data count section (checked above).
      // Wizer leaves one, empty, for each segment its snapshot replaced.
      const length = u32();
      if (length < 0) return null;
      pos += length;
      if (pos > end) return null;
      continue;
    }
    if (flags === 0x02 && u32() !== 0) return null;
    else if (flags !== 0x00 && flags !== 0x02) return null;
    if (pos >= end || byte(pos++) !== 0x41) return null; // i32.const
    // The address, a signed LEB128 (i32), read as the unsigned 32 bits it addresses.
    let at = 0;
    let shift = 0;
    let b = 0x80;
    while (b & 0x80) {
      if (pos >= end || shift >= 35) return null;
      b = byte(pos++);
      at |= (b & 0x7f) << shift;
      shift += 7;
    }
    if (shift < 32 && b & 0x40) at |= -1 << shift;
    at >>>= 0;
    if (pos >= end || byte(pos++) !== 0x0b) return null; // end of the offset expression
    const length = u32();
    if (length < 0 || pos + length > end) return null;
    out[n * 3] = at;
    out[n * 3 + 1] = pos;
    out[n * 3 + 2] = length;
    n++;
    pos += length;
  }
  return pos === end ? out.subarray(0, n * 3) : null;
}

const utf8 = (s: string): number[] => [...Buffer.from(s, 'utf8')];

/** Import entries from `pos` (after the count): whether one is a memory, and where they end. */
function scanImports(b: Uint8Array, pos: number, count: number): { hasMemory: boolean; end: number } {
  let hasMemory = false;
  for (; count > 0; count--) {
    pos = skipName(b, skipName(b, pos));
    const kind = b[pos++];
    if (kind === 0x00) pos = readLeb(b, pos)[1];
    else if (kind === 0x01 || kind === 0x02) {
      if (kind === 0x01) pos += 1;
      hasMemory ||= kind === 0x02;
      const flags = b[pos++] ?? 0;
      pos = readLeb(b, pos)[1];
      if (flags & 1) pos = readLeb(b, pos)[1];
    } else if (kind === 0x03) pos += 2;
    else if (kind === 0x04) pos = readLeb(b, pos + 1)[1];
    else throw notWasm(`unknown import kind ${kind}`);
  }
  return { hasMemory, end: pos };
}

/**
 * Returns `wasm` with its one defined memory replaced by the import `shadowbox.memory`, capped at `maxPages`
 * as limitMemoryPages caps it (one copy of the module instead of two: each is ~10 ms for CPython's 14 MB,
 * on the way to the first call). Null, and nothing rewritten, when the module does not define exactly one
 * plain memory (none, several, one imported already, shared, 64-bit): limitMemoryPages is then the rewrite.
 * `detachData`: leave the data section out too when its segments can be written after instantiation (`segments`).
 * `opts.segments`: those segments as the caller found them (scanSegments), its data section's body not being in
 * `wasm`: null then unless they are left out (the module would otherwise hold bytes that were never read).
 * `room`: a buffer `wasm` lies in, all of it the caller's to overwrite: the module is then rewritten inside it (see
 * joinInPlace), and `wasm`'s bytes are no longer the input's afterwards.
 */
export function importMemory(
  wasm: Uint8Array,
  maxPages: number,
  opts: { detachData?: boolean; room?: Uint8Array; segments?: Uint32Array } = {},
): ImportedMemoryModule | null {
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d || wasm[4] !== 1) {
    throw notWasm('bad magic or version');
  }
  const sections: { id: number; start: number; body: number; end: number }[] = [];
  for (let pos = 8; pos < wasm.length;) {
    const id = wasm[pos] ?? 0;
    const [size, body] = readLeb(wasm, pos + 1);
    const end = body + size;
    if (end > wasm.length) throw notWasm('section past end');
    sections.push({ id, start: pos, body, end });
    pos = end;
  }
  const mem = sections.find((s) => s.id === 5);
  if (!mem) return null;
  const [count, limitsAt] = readLeb(wasm, mem.body);
  if (count !== 1) return null;
  if ((wasm[limitsAt] ?? 0) & ~1) return null;
  const [limits] = capLimits(wasm, limitsAt, maxPages);
  const [initial, afterMin] = readLeb(Uint8Array.from(limits), 1);
  const maximum = readLeb(Uint8Array.from(limits), afterMin)[0];

  const imp = sections.find((s) => s.id === 2);
  let entries: Uint8Array = new Uint8Array(0);
  let importCount = 0;
  if (imp) {
    const [n, first] = readLeb(wasm, imp.body);
    const { hasMemory, end } = scanImports(wasm, first, n);
    if (hasMemory) return null;
    if (end !== imp.end) throw notWasm('import section size mismatch');
    importCount = n;
    entries = wasm.subarray(first, imp.end);
  }
  const entry = [
    ...leb(MEMORY_IMPORT.module.length),
    ...utf8(MEMORY_IMPORT.module),
    ...leb(MEMORY_IMPORT.name.length),
    ...utf8(MEMORY_IMPORT.name),
    0x02,
    ...limits,
  ];
  const importSection = section(
    2,
    Buffer.concat([Uint8Array.from(leb(importCount + 1)), entries, Uint8Array.from(entry)]),
  );

  // Sections in order, the memory section left out and the import section replaced (or put where it
  // belongs: after the type section and any custom sections before the next known one).
  const segments = opts.detachData ? detachableSegments(wasm, sections, initial, opts.segments) : null;
  // The data section's body was not read: a module that keeps it is none to return.
  if (opts.segments && !segments) return null;
  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  let placed = false;
  for (const s of sections) {
    if (s.id === 5 || (s.id === 11 && segments)) continue;
    if (s.id === 2) {
      parts.push(importSection);
      placed = true;
      continue;
    }
    if (!placed && s.id !== 0 && s.id !== 1) {
      parts.push(importSection);
      placed = true;
    }
    parts.push(wasm.subarray(s.start, s.end));
  }
  if (!placed) parts.push(importSection);
  const bytes = (opts.room && joinInPlace(opts.room, parts)) ?? Buffer.concat(parts);
  return { bytes, memory: { initial, maximum }, ...(segments ? { segments } : {}) };
}

/**
 * `parts` joined inside `room` without a copy of the largest: the parts before it are written just in front of it
 * (they are small, and copied out first, since the front sections they come from are overwritten), and the parts after
 * it are moved down to follow it. A new module's worth of memory (CPython's 4.6 MB of code, once: ~20 ms here, the
 * pages touched for the first time) is not allocated on the way to the first call. Null, and `room` untouched, when
 * `room` has too little space before the largest part or a part after it is not inside `room`.
 */
function joinInPlace(room: Uint8Array, parts: Uint8Array[]): Uint8Array | null {
  const inside = (p: Uint8Array) =>
    p.buffer === room.buffer &&
    p.byteOffset >= room.byteOffset &&
    p.byteOffset + p.length <= room.byteOffset + room.length;
  let largest = 0;
  for (let i = 1; i < parts.length; i++) if (parts[i].length > parts[largest].length) largest = i;
  const main = parts[largest];
  const before = parts.slice(0, largest);
  const after = parts.slice(largest + 1);
  if (!inside(main) || !after.every(inside)) return null;
  const at = main.byteOffset - room.byteOffset;
  const frontLength = before.reduce((n, p) => n + p.length, 0);
  if (frontLength > at) return null;
  // Each part after moves to a lower or equal offset, below where the next one starts (they come in input order): in
  // order, no move overwrites a part not yet moved. Checked for all before anything is written.
  const moves: [to: number, from: number, length: number][] = [];
  let end = at + main.length;
  for (const p of after) {
    const from = p.byteOffset - room.byteOffset;
    if (from < end) return null;
    moves.push([end, from, p.length]);
    end += p.length;
  }
  const front = Buffer.concat(before);
  for (const [to, from, length] of moves) room.copyWithin(to, from, from + length);
  room.set(front, at - frontLength);
  return room.subarray(at - frontLength, end);
}
