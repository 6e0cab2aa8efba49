// The linear memory a worker keeps between runs of a module that imports its memory (../memory-import.ts).
// A new WebAssembly.Memory per run is external memory to V8 (~12 MB for CPython), and one per run made the
// worker collect garbage every few runs (2–24 ms pauses). Reuse must not carry anything across runs, so a
// kept memory goes to the next instance only after being zeroed whole, and only while it is still at its
// initial size: a new memory is zeros up to `initial`, and instantiation then writes the module's data
// segments, so a zeroed memory of the same size and limits gives the next instance exactly the bytes a
// new memory would. A memory a run grew cannot shrink: it is dropped, never handed on (the next run must
// start with its whole limit and must not find pages past the initial end).
import { wasm, type WasmMemory } from '../host/wasm-api.js';
import type { MemoryLimits } from './protocol.js';

/** A memory for one instance, the limits it was made with, and whether it was an earlier run's (zeroed). */
export interface TakenMemory {
  memory: WasmMemory;
  limits: MemoryLimits;
  reused: boolean;
}

/** At most one kept memory; a worker runs one instance at a time. */
export class SpareMemory {
  private kept: { memory: WasmMemory; limits: MemoryLimits } | null = null;

  /** The kept memory, zeroed, when its limits are `limits` and it is at its initial size; otherwise a new one. */
  take(limits: MemoryLimits): TakenMemory {
    const k = this.kept;
    this.kept = null;
    if (
      k &&
      k.limits.initial === limits.initial &&
      k.limits.maximum === limits.maximum &&
      k.memory.buffer.byteLength === limits.initial * 65536
    ) {
      new Uint8Array(k.memory.buffer).fill(0);
      return { memory: k.memory, limits, reused: true };
    }
    return { memory: new wasm.Memory(limits), limits, reused: false };
  }

  /** Keeps a taken memory for a later take() once its instance is done with it, unless its run grew it. */
  keep({ memory, limits }: TakenMemory): void {
    this.kept = memory.buffer.byteLength === limits.initial * 65536 ? { memory, limits } : null;
  }

  /** Whether a memory is kept (tests). */
  get hasKept(): boolean {
    return this.kept !== null;
  }
}
