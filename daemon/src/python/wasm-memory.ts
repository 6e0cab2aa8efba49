import { ErrorCodes, ShadowboxError } from '../errors.js';

// Worker resourceLimits do not bound wasm memory; the declared maximum of the module's memory does
// (memory.grow beyond it fails, CPython raises MemoryError). So the module is rewritten before
// it is compiled: its first defined memory gets max = min(declared max, limit).

function readLeb(b: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = b[pos++];
    if (byte === undefined) throw new Error('truncated LEB128');
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [result, pos];
  }
}

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** Returns a copy of `wasm` whose memory may grow to at most `maxPages` 64 KiB pages. */
export function limitMemoryPages(wasm: Uint8Array, maxPages: number): Uint8Array {
  if (wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d) {
    throw new ShadowboxError(ErrorCodes.WasiFailed, 'not_wasm', 'the python module is not a WebAssembly binary');
  }
  let pos = 8;
  while (pos < wasm.length) {
    const id = wasm[pos];
    const [size, body] = readLeb(wasm, pos + 1);
    const end = body + size;
    if (id === 5) {
      let [count, p] = readLeb(wasm, body);
      if (count < 1) break;
      const flags = wasm[p++];
      let min: number;
      [min, p] = readLeb(wasm, p);
      let max = maxPages;
      if (flags & 1) {
        let declared: number;
        [declared, p] = readLeb(wasm, p);
        max = Math.min(declared, maxPages);
      }
      if (min > max) {
        throw new ShadowboxError(ErrorCodes.WasiLimitExceeded, 'memory_limit', `the module needs ${min} pages at start, more than the ${maxPages}-page limit`);
      }
      const rest = wasm.subarray(p, end);
      count -= 1;
      const bodyBytes = [...leb(count + 1), (flags & ~1) | 1, ...leb(min), ...leb(max)];
      const section = new Uint8Array(1 + leb(bodyBytes.length + rest.length).length + bodyBytes.length + rest.length);
      const header = [5, ...leb(bodyBytes.length + rest.length)];
      section.set(header, 0);
      section.set(bodyBytes, header.length);
      section.set(rest, header.length + bodyBytes.length);
      const out = new Uint8Array(pos + section.length + (wasm.length - end));
      out.set(wasm.subarray(0, pos), 0);
      out.set(section, pos);
      out.set(wasm.subarray(end), pos + section.length);
      return out;
    }
    pos = end;
  }
  throw new ShadowboxError(ErrorCodes.WasiFailed, 'no_memory', 'the python module defines no memory');
}
