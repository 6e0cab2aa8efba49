import { describe, expect, it } from 'vitest';
import { importMemory } from './memory-import.js';
import { limitMemoryPages } from './memory-limit.js';
import { fixture } from './test-support.js';

interface WasmApi {
  Module: (new (b: Uint8Array) => object) & {
    imports(m: object): { module: string; name: string; kind: string }[];
    exports(m: object): { name: string; kind: string }[];
  };
  Memory: new (d: { initial: number; maximum?: number }) => { grow(n: number): number; buffer: ArrayBuffer };
  Instance: new (m: object, i: object) => { exports: Record<string, unknown> };
}
const W = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
const wasiStub = new Proxy({}, { get: () => () => 0 });

describe('memory import rewrite', () => {
  it('turns the defined memory into shadowbox.memory capped as limitMemoryPages caps it, still exported', async () => {
    const r = importMemory(await fixture('probe'), 40);
    expect(r).not.toBeNull();
    const mod = new W.Module(r!.bytes);
    expect(W.Module.imports(mod).filter((i) => i.kind === 'memory')).toEqual([
      { module: 'shadowbox', name: 'memory', kind: 'memory' },
    ]);
    expect(W.Module.exports(mod)).toContainEqual({ name: 'memory', kind: 'memory' });
    expect(r!.memory.maximum).toBe(40);
    const { initial } = r!.memory;
    // The cap stays: a memory allowed to grow further does not link; one within it is the instance's memory.
    expect(
      () =>
        new W.Instance(mod, {
          wasi_snapshot_preview1: wasiStub,
          shadowbox: { memory: new W.Memory({ initial, maximum: 41 }) },
        }),
    ).toThrow();
    const memory = new W.Memory({ initial, maximum: 40 });
    const inst = new W.Instance(mod, { wasi_snapshot_preview1: wasiStub, shadowbox: { memory } });
    expect(inst.exports.memory).toBe(memory);
  });

  it('writes the data segments into the given memory at instantiation, as into a memory of its own', async () => {
    const probe = await fixture('probe');
    const own = new W.Instance(new W.Module(limitMemoryPages(probe, 40)), { wasi_snapshot_preview1: wasiStub });
    const r = importMemory(probe, 40)!;
    const memory = new W.Memory(r.memory);
    new W.Instance(new W.Module(r.bytes), { wasi_snapshot_preview1: wasiStub, shadowbox: { memory } });
    const ownBytes = new Uint8Array((own.exports.memory as { buffer: ArrayBuffer }).buffer);
    expect(Buffer.compare(ownBytes, new Uint8Array(memory.buffer))).toBe(0);
  });

  it('adds an import section to a module that had none', () => {
    // A memory of 1 page, no maximum, exported as "m"; no other section.
    const bytes = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 1, 7, 5, 1, 1, 0x6d, 2, 0]);
    const r = importMemory(bytes, 10)!;
    expect(r.memory).toEqual({ initial: 1, maximum: 10 });
    const memory = new W.Memory({ initial: 1, maximum: 10 });
    const inst = new W.Instance(new W.Module(r.bytes), { shadowbox: { memory } });
    expect(inst.exports.m).toBe(memory);
  });

  it('leaves a module that already imports its memory as it is', async () => {
    expect(importMemory(await fixture('importmem'), 40)).toBeNull();
  });

  it('leaves a module without a memory as it is, and refuses non-wasm', () => {
    // The smallest module: magic and version, no sections.
    expect(importMemory(Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]), 10)).toBeNull();
    expect(() => importMemory(Buffer.from('hello world'), 10)).toThrow(/not a valid WebAssembly/);
  });

  it('refuses a module whose memory starts larger than the cap, as limitMemoryPages does', async () => {
    const probe = await fixture('probe');
    expect(() => importMemory(probe, 1)).toThrow(expect.objectContaining({ reason: 'memory_limit' }) as Error);
  });
});
