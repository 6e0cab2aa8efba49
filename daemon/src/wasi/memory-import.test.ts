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

// Modules built byte by byte: a memory of `pages` and the given data segments (and any extra sections), nothing else.
const leb = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...leb(n >>> 7)]);
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};
const sec = (id: number, body: number[]) => [id, ...leb(body.length), ...body];
const active = (at: number, bytes: number[]) => [0x00, 0x41, ...sleb(at), 0x0b, ...leb(bytes.length), ...bytes];
const passive = (bytes: number[]) => [0x01, ...leb(bytes.length), ...bytes];
function moduleWith(pages: number, segments: number[][], extra: [number, number[]][] = []): Uint8Array {
  const sections: [number, number[]][] = [
    [5, [1, 0x00, ...leb(pages)]],
    ...extra,
    [11, [segments.length, ...segments.flat()]],
  ];
  sections.sort((a, b) => (a[0] === 12 ? 10.5 : a[0]) - (b[0] === 12 ? 10.5 : b[0]));
  return Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...sections.flatMap(([id, body]) => sec(id, body))]);
}

describe('memory import rewrite: data segments left in the file', () => {
  const bytesAt = (mem: { buffer: ArrayBuffer }) => new Uint8Array(mem.buffer);

  it('leaves the data section out and lists each active segment, skipping the passive ones nothing can use', () => {
    const wasm = moduleWith(2, [passive([]), active(16, [1, 2, 3]), passive([9, 9]), active(70000, [4, 5])]);
    const r = importMemory(wasm, 10, { detachData: true })!;
    expect(r.segments).toBeDefined();
    const t = [...r.segments!];
    expect(t).toHaveLength(6);
    expect([t[0], t[2], t[3], t[5]]).toEqual([16, 3, 70000, 2]);
    // The offsets point at each segment's bytes in the input.
    expect([...wasm.subarray(t[1], t[1] + t[2])]).toEqual([1, 2, 3]);
    expect([...wasm.subarray(t[4], t[4] + t[5])]).toEqual([4, 5]);
    // The rewritten module has no data: a memory given to it stays zeros.
    const mem = new W.Memory(r.memory);
    new W.Instance(new W.Module(r.bytes), { shadowbox: { memory: mem } });
    expect(bytesAt(mem).some((b) => b !== 0)).toBe(false);
    // Without the option the data section stays and instantiation writes it.
    const kept = importMemory(wasm, 10)!;
    expect(kept.segments).toBeUndefined();
    const mem2 = new W.Memory(kept.memory);
    new W.Instance(new W.Module(kept.bytes), { shadowbox: { memory: mem2 } });
    expect([...bytesAt(mem2).subarray(16, 19), ...bytesAt(mem2).subarray(70000, 70002)]).toEqual([1, 2, 3, 4, 5]);
  });

  it('keeps the data section in when writing it after instantiation would not be the same', () => {
    const seg = [active(0, [1])];
    // A start function runs at instantiation, before anything could be written.
    expect(importMemory(moduleWith(1, seg, [[8, [0]]]), 10, { detachData: true })!.segments).toBeUndefined();
    // A data count section: code may use memory.init on passive segments.
    expect(importMemory(moduleWith(1, seg, [[12, [1]]]), 10, { detachData: true })!.segments).toBeUndefined();
    // A segment past the initial pages: instantiation would fail, the rewrite must not make it succeed.
    expect(importMemory(moduleWith(1, [active(65535, [1, 2])]), 10, { detachData: true })!.segments).toBeUndefined();
    // An address that is not a constant (global.get).
    const fromGlobal = [0x00, 0x23, 0x00, 0x0b, 1, 7];
    expect(importMemory(moduleWith(1, [fromGlobal]), 10, { detachData: true })!.segments).toBeUndefined();
    // In another memory.
    const otherMemory = [0x02, 0x01, 0x41, 0x00, 0x0b, 1, 7];
    expect(importMemory(moduleWith(1, [otherMemory]), 10, { detachData: true })!.segments).toBeUndefined();
  });
});

describe('memory import rewrite: inside the buffer the module was read into (room)', () => {
  /** `wasm` copied into a new buffer `headroom` bytes from its start, with a byte of slack after it. */
  const inRoom = (wasm: Uint8Array, headroom: number) => {
    const room = Buffer.alloc(headroom + wasm.length + 1, 0xee);
    room.set(wasm, headroom);
    return { room, bytes: room.subarray(headroom, headroom + wasm.length) };
  };
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;

  it('gives the same module as the copy, without one', async () => {
    // [name, module, written in place without / with detachData]: in place whenever the largest part of the result
    // comes from the input (the code of a real module); a module of a few bytes, whose largest part is the new import
    // section, is copied.
    const modules: [string, Uint8Array, boolean, boolean][] = [
      ['probe', await fixture('probe'), true, true],
      [
        'no import section',
        Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 1, 7, 5, 1, 1, 0x6d, 2, 0]),
        false,
        false,
      ],
      [
        'data segments',
        moduleWith(2, [passive([]), active(16, [1, 2, 3]), active(64, [7]), active(70000, Array(300).fill(4))]),
        true,
        false,
      ],
      // A custom section after the data section: it stays last, after the new import section (copied: the largest
      // part is in front of a part that is not the input's).
      [
        'data then a custom section',
        Uint8Array.from([...moduleWith(1, [active(0, [1])]), ...sec(0, [1, 0x78, ...Array<number>(300).fill(9)])]),
        true,
        false,
      ],
      // Code (a function of 300 nops), data, then a custom section: with the data left out, the custom section is
      // moved down to follow the code.
      [
        'code, data, custom',
        Uint8Array.from([
          ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
          ...sec(1, [1, 0x60, 0, 0]),
          ...sec(3, [1, 0]),
          ...sec(5, [1, 0x00, 1]),
          ...sec(10, [1, ...leb(302), 0, ...Array<number>(300).fill(0x01), 0x0b]),
          ...sec(11, [1, ...active(8, [1, 2, 3])]),
          ...sec(0, [1, 0x78, 7, 7, 7]),
        ]),
        true,
        true,
      ],
    ];
    for (const [name, wasm, ...inPlace] of modules)
      for (const detachData of [false, true]) {
        const copied = importMemory(wasm, 40, { detachData })!;
        const { room, bytes } = inRoom(wasm, 256);
        const r = importMemory(bytes, 40, { detachData, room })!;
        const what = `${name}, detachData ${detachData}`;
        expect(same(r.bytes, copied.bytes), what).toBe(true);
        expect(r.bytes.buffer === room.buffer, what).toBe(inPlace[Number(detachData)]);
        expect(r.memory).toEqual(copied.memory);
        expect(r.segments && [...r.segments]).toEqual(copied.segments && [...copied.segments]);
        new W.Module(r.bytes); // it compiles
      }
  });

  it('copies instead, and leaves the buffer as it was, when there is too little room in front', async () => {
    const probe = await fixture('probe');
    const { room, bytes } = inRoom(probe, 0);
    const before = Buffer.from(room);
    const r = importMemory(bytes, 40, { room })!;
    expect(same(r.bytes, importMemory(probe, 40)!.bytes)).toBe(true);
    expect(r.bytes.buffer).not.toBe(room.buffer);
    expect(same(room, before)).toBe(true);
  });

  it('reads segment addresses as the unsigned 32 bits a signed LEB128 gives', () => {
    // i32.const -1 is address 0xffffffff: past the initial pages, so the section is kept (instantiation would trap).
    expect(importMemory(moduleWith(1, [active(-1, [1])]), 10, { detachData: true })!.segments).toBeUndefined();
    // 64 needs two bytes as a signed LEB128 (its sixth bit would read as a sign): still address 64.
    const r = importMemory(moduleWith(1, [active(64, [5])]), 10, { detachData: true })!;
    expect([...r.segments!].filter((_, i) => i % 3 !== 1)).toEqual([64, 1]);
  });
});
