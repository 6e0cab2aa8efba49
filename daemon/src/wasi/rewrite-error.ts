import { ErrorCodes, ShadowboxError } from '../errors.js';
import { WasmRewriteError } from './memory-limit.js';

/** What a refused rewrite carries across threads (a WasmRewriteError's fields). */
export interface RewriteRefusal {
  reason: 'invalid_module' | 'memory_limit';
  message: string;
  details?: Record<string, number>;
}

/** The ShadowboxError of a refused module rewrite (memory-limit.ts, memory-import.ts), here or in a worker. */
export function rewriteRefusal(r: RewriteRefusal): ShadowboxError {
  return r.reason === 'memory_limit'
    ? new ShadowboxError(ErrorCodes.WasiLimitExceeded, 'memory_limit', r.message, r.details ?? {})
    : new ShadowboxError(ErrorCodes.WasiFailed, 'invalid_module', r.message);
}

/** Runs a rewrite on this thread, a refusal thrown as its ShadowboxError. */
export function rewriting<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw e instanceof WasmRewriteError ? rewriteRefusal(e) : e;
  }
}
