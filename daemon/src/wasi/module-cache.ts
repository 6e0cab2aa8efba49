import { sha256Hex } from '../canonical.js';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { importMemory } from './memory-import.js';
import { limitMemoryPages } from './memory-limit.js';
import { rewriting } from './rewrite-error.js';
import type { WasiModuleSource } from './types.js';
import type { MemoryLimits } from './worker/protocol.js';

/** Node's WebAssembly global (the daemon's TS lib has no DOM types); a compiled module is opaque here. */
const wasmApi = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<object> } }).WebAssembly;

/** SHA-256 hex of module bytes (the cache key). */
export { sha256Hex };

/** 64 KiB pages that fit in `bytes` (at least 1). */
export function pagesFor(bytes: number): number {
  return Math.max(1, Math.floor(bytes / 65536));
}

/** A compiled module and, when its own memory was made an import (importMemory), that memory's limits. */
interface Compiled {
  module: object;
  memory?: MemoryLimits;
}

/**
 * Compiled modules kept for the daemon's lifetime, keyed by content hash and memory cap (the cap
 * is written into the module before compiling, so each cap is its own compiled module). A module's
 * own memory becomes an import, so a worker that serves several runs reuses it (zeroed).
 * Concurrent requests for one key share one compilation.
 */
export class ModuleCache {
  private readonly compiled = new Map<string, Promise<Compiled>>();
  /** Hashes of byte arrays seen before (callers must not mutate bytes they passed in). */
  private readonly hashes = new WeakMap<Uint8Array, string>();

  constructor(private readonly maxEntries = 32) {}

  /** Returns the compiled module for `source` with memory capped at `maxPages`. */
  async get(source: WasiModuleSource, maxPages: number): Promise<Compiled & { sha256: string }> {
    let sha256: string;
    if ('bytes' in source) {
      sha256 = this.hashes.get(source.bytes) ?? sha256Hex(source.bytes);
      this.hashes.set(source.bytes, sha256);
    } else sha256 = source.sha256;
    const key = `${sha256}:${maxPages}`;
    let p = this.compiled.get(key);
    if (p === undefined) {
      p = (async () => {
        const bytes = 'bytes' in source ? source.bytes : await source.load();
        if (!('bytes' in source) && sha256Hex(bytes) !== sha256) {
          throw new ShadowboxError(
            ErrorCodes.WasiFailed,
            'module_hash_mismatch',
            'the loaded module does not match its content hash',
            { sha256 },
          );
        }
        const imported = rewriting(() => importMemory(bytes, maxPages));
        const module = await wasmApi.compile(imported?.bytes ?? rewriting(() => limitMemoryPages(bytes, maxPages)));
        return imported ? { module, memory: imported.memory } : { module };
      })();
      this.compiled.set(key, p);
      p.catch(() => this.compiled.delete(key));
      while (this.compiled.size > this.maxEntries) {
        const oldest = this.compiled.keys().next().value;
        if (oldest === undefined) break;
        this.compiled.delete(oldest);
      }
    } else {
      // Refresh recency.
      this.compiled.delete(key);
      this.compiled.set(key, p);
    }
    return { ...(await p), sha256 };
  }
}
