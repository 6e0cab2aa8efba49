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

/** A signed LEB128 (i32) at `pos`: [value, position after it]. */
function readSleb32(b: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  let byte: number | undefined;
  do {
    byte = b[pos++];
    if (byte === undefined) throw notWasm('truncated LEB128');
    result |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80 && shift < 35);
  if (byte & 0x80) throw notWasm('LEB128 too long');
  if (shift < 32 && byte & 0x40) result |= -1 << shift;
  return [result, pos];
}

/**
 * The data section's active segments as [memory address, offset in `wasm`, length] triplets, when every one is in
 * memory 0, at a constant address, and inside the memory's `initial` pages: then writing them into a zeroed memory of
 * that size after instantiation is what instantiation would have done (no start function runs in between: a module
 * with one is not detached). Null otherwise, or when a data count section says code may use passive segments.
 */
function detachableSegments(
  wasm: Uint8Array,
  sections: { id: number; body: number; end: number }[],
  initial: number,
): Uint32Array | null {
  if (sections.some((s) => s.id === 8 || s.id === 12)) return null;
  const datas = sections.filter((s) => s.id === 11);
  if (datas.length !== 1) return null;
  const data = datas[0];
  const [count, first] = readLeb(wasm, data.body);
  // Each segment takes at least two bytes (its flags and its length).
  if (count * 2 > data.end - first) return null;
  const out = new Uint32Array(new SharedArrayBuffer(count * 3 * 4));
  const limit = initial * 65536;
  let pos = first;
  let n = 0;
  for (let i = 0; i < count; i++) {
    const flags = wasm[pos++];
    if (flags === 0x01) {
      // Passive: only memory.init can use it, and code with memory.init needs a data count section (checked above).
      // Wizer leaves one, empty, for each segment its snapshot replaced.
      let length: number;
      [length, pos] = readLeb(wasm, pos);
      pos += length;
      if (pos > data.end) return null;
      continue;
    }
    if (flags === 0x02) {
      let memory: number;
      [memory, pos] = readLeb(wasm, pos);
      if (memory !== 0) return null;
    } else if (flags !== 0x00) return null;
    if (wasm[pos++] !== 0x41) return null; // i32.const
    let at: number;
    [at, pos] = readSleb32(wasm, pos);
    if (wasm[pos++] !== 0x0b) return null; // end of the offset expression
    let length: number;
    [length, pos] = readLeb(wasm, pos);
    at >>>= 0;
    if (pos + length > data.end || at + length > limit) return null;
    out.set([at, pos, length], n++ * 3);
    pos += length;
  }
  return pos === data.end ? out.subarray(0, n * 3) : null;
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
 */
export function importMemory(
  wasm: Uint8Array,
  maxPages: number,
  opts: { detachData?: boolean } = {},
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
  const segments = opts.detachData ? detachableSegments(wasm, sections, initial) : null;
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
  return { bytes: Buffer.concat(parts), memory: { initial, maximum }, ...(segments ? { segments } : {}) };
}
