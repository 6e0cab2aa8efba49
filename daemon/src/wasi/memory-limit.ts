// Worker resourceLimits do not bound wasm memory; the module's declared memory maximum does.
// So the module is rewritten before compiling: every memory it defines or imports gets
// max = min(declared max, limit), and memory.grow past it fails inside the guest.

/** An unsigned LEB128 at `pos`: [value, position after it]. */
export function readLeb(b: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = b[pos++];
    if (byte === undefined) throw notWasm('truncated LEB128');
    result += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [result, pos];
    if (shift > 35) throw notWasm('LEB128 too long');
  }
}

/** `n` as unsigned LEB128 bytes. */
export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/**
 * A module the rewrite refuses, as plain data: this file and memory-import.ts also run in the sandbox worker
 * (which compiles python off the main thread) and do not load the protocol there. `rewriteRefusal` and
 * `rewriting` (rewrite-error.ts) make it the ShadowboxError the daemon reports.
 */
export class WasmRewriteError extends Error {
  constructor(
    readonly reason: 'invalid_module' | 'memory_limit',
    message: string,
    readonly details: Record<string, number> = {},
  ) {
    super(message);
    this.name = 'WasmRewriteError';
  }
}

/** The error for bytes that are not a (supported) WebAssembly module. */
export function notWasm(msg: string): WasmRewriteError {
  return new WasmRewriteError('invalid_module', `not a valid WebAssembly module: ${msg}`);
}

/** Rewrites one `limits` structure at pos; returns [new bytes, end position in input]. */
export function capLimits(b: Uint8Array, pos: number, maxPages: number): [number[], number] {
  const flags = b[pos++] ?? 0;
  if (flags & 0x04) throw notWasm('memory64 is not supported');
  let min: number;
  [min, pos] = readLeb(b, pos);
  let max = maxPages;
  if (flags & 1) {
    let declared: number;
    [declared, pos] = readLeb(b, pos);
    max = Math.min(declared, maxPages);
  }
  if (min > max) {
    throw new WasmRewriteError(
      'memory_limit',
      `the module needs ${min} pages at start, more than the ${maxPages}-page limit`,
      { minPages: min, maxPages },
    );
  }
  return [[flags | 1, ...leb(min), ...leb(max)], pos];
}

/** The position after a name (a length-prefixed string) at `pos`. */
export function skipName(b: Uint8Array, pos: number): number {
  const [len, p] = readLeb(b, pos);
  return p + len;
}

/** Returns a copy of `wasm` whose memories may grow to at most `maxPages` 64 KiB pages. */
export function limitMemoryPages(wasm: Uint8Array, maxPages: number): Uint8Array {
  if (wasm.length < 8 || wasm[0] !== 0 || wasm[1] !== 0x61 || wasm[2] !== 0x73 || wasm[3] !== 0x6d || wasm[4] !== 1) {
    throw notWasm('bad magic or version');
  }
  const parts: Uint8Array[] = [wasm.subarray(0, 8)];
  let pos = 8;
  let found = false;
  while (pos < wasm.length) {
    const id = wasm[pos] ?? 0;
    const [size, body] = readLeb(wasm, pos + 1);
    const end = body + size;
    if (end > wasm.length) throw notWasm('section past end');
    if (id === 5) {
      let [count, p] = readLeb(wasm, body);
      const out: number[] = [...leb(count)];
      for (; count > 0; count--) {
        const [lim, next] = capLimits(wasm, p, maxPages);
        out.push(...lim);
        p = next;
      }
      parts.push(section(5, Uint8Array.from(out)));
      found = true;
    } else if (id === 2) {
      let [count, p] = readLeb(wasm, body);
      const out: number[] = [];
      let changed = false;
      const start = body;
      let copied = p;
      for (; count > 0; count--) {
        p = skipName(wasm, skipName(wasm, p));
        const kind = wasm[p++];
        if (kind === 0x00) p = readLeb(wasm, p)[1];
        else if (kind === 0x01) {
          p += 1;
          const f = wasm[p++] ?? 0;
          p = readLeb(wasm, p)[1];
          if (f & 1) p = readLeb(wasm, p)[1];
        } else if (kind === 0x03) p += 2;
        else if (kind === 0x04) {
          p += 1;
          p = readLeb(wasm, p)[1];
        } else if (kind === 0x02) {
          out.push(...wasm.subarray(copied, p));
          const [lim, next] = capLimits(wasm, p, maxPages);
          out.push(...lim);
          p = next;
          copied = p;
          changed = true;
          found = true;
        } else throw notWasm(`unknown import kind ${kind}`);
      }
      if (changed) {
        out.push(...wasm.subarray(copied, end));
        parts.push(section(2, Uint8Array.from([...wasm.subarray(start, readLeb(wasm, body)[1]), ...out])));
      } else parts.push(wasm.subarray(pos, end));
    } else parts.push(wasm.subarray(pos, end));
    pos = end;
  }
  if (!found) return wasm;
  return Buffer.concat(parts);
}

/** A section: its id, its size as LEB128, the body. */
export function section(id: number, body: Uint8Array): Uint8Array {
  return Buffer.concat([Uint8Array.from([id, ...leb(body.length)]), body]);
}
