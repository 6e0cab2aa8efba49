import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { WasiRunRequest, WasiRunResult } from './types.js';

/** Finds a wasmtime binary: SHADOWBOX_WASMTIME, then PATH; null when absent. */
export function findWasmtime(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [env.SHADOWBOX_WASMTIME, ...(env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, 'wasmtime'))];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return null;
}

/** Runs a request with the wasmtime CLI (see docs/wasi.md for how /workspace is handled). */
export async function runWasmtime(_bin: string, _req: WasiRunRequest): Promise<WasiRunResult> {
  throw new ShadowboxError(ErrorCodes.WasiRunnerUnavailable, 'wasmtime_not_implemented', 'the wasmtime runner is not implemented yet');
}
