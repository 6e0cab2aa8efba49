import { describe, expect, it } from 'vitest';
import { limitMemoryPages } from './memory-limit.js';
import { fixture } from './test-support.js';

interface WasmApi {
  Module: new (b: Uint8Array) => object;
  Memory: new (d: { initial: number; maximum?: number }) => { grow(n: number): number };
  Instance: new (m: object, i: object) => { exports: Record<string, unknown> };
}
const W = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
const wasiStub = new Proxy({}, { get: () => () => 0 });

describe('memory cap rewrite', () => {
  it('caps a defined memory so memory.grow fails past the cap', async () => {
    const capped = limitMemoryPages(await fixture('probe'), 40);
    const inst = new W.Instance(new W.Module(capped), { wasi_snapshot_preview1: wasiStub });
    const mem = inst.exports.memory as { grow(n: number): number; buffer: ArrayBuffer };
    const pages = mem.buffer.byteLength / 65536;
    expect(() => mem.grow(40 - pages + 1)).toThrow();
    expect(mem.grow(40 - pages)).toBe(pages);
  });

  it('caps an imported memory (linking a larger maximum fails)', async () => {
    const capped = limitMemoryPages(await fixture('importmem'), 40);
    const mod = new W.Module(capped);
    expect(
      () =>
        new W.Instance(mod, {
          env: { memory: new W.Memory({ initial: 20, maximum: 41 }) },
          wasi_snapshot_preview1: wasiStub,
        }),
    ).toThrow();
    expect(
      () =>
        new W.Instance(mod, {
          env: { memory: new W.Memory({ initial: 20, maximum: 40 }) },
          wasi_snapshot_preview1: wasiStub,
        }),
    ).not.toThrow();
  });

  it('refuses non-wasm and truncated input', () => {
    expect(() => limitMemoryPages(Buffer.from('\0asm\x01\0\0\0\x05\x05'), 10)).toThrow(/not a valid WebAssembly/);
    expect(() => limitMemoryPages(Buffer.from('hello world'), 10)).toThrow(/not a valid WebAssembly/);
  });
});
