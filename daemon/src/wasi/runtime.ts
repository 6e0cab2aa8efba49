import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { AuditSink } from '../audit/index.js';
import type { Logger } from '../state/index.js';
import { runInprocess } from './inprocess-runner.js';
import { ModuleCache, pagesFor } from './module-cache.js';
import { createFetchBridge, createNetFetch, type FetchBridge, type NetFetchService } from '../net/index.js';
import type { WasiRunRequest, WasiRunResult, WasiRuntime } from './types.js';
import { findWasmtime, runWasmtime } from './wasmtime-runner.js';
import { WorkerPool } from './worker-pool.js';

/**
 * Dependencies of the runtime; all optional. `wasmtimePath` overrides discovery (null = none).
 * Without `netFetch`, a default service auditing to `audit` is created (requests still need a
 * per-run grant and rules). Runs themselves are audited by the tool runtime that calls run().
 */
export interface WasiRuntimeDeps {
  logger?: Logger;
  audit?: AuditSink;
  /** Workers kept ready (default 2). */
  poolSize?: number;
  /** Runs a worker may serve when each ended normally (default 1: single-use workers). */
  maxRunsPerWorker?: number;
  netFetch?: NetFetchService;
  wasmtimePath?: string | null;
}

function validate(req: WasiRunRequest): void {
  const { limits } = req;
  for (const [k, v] of Object.entries(limits)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ShadowboxError(
        ErrorCodes.InvalidParams,
        'invalid_limits',
        `limits.${k} must be a positive number, got ${String(v)}`,
        { limit: k },
      );
    }
  }
  if (req.argv.length === 0)
    throw new ShadowboxError(ErrorCodes.InvalidParams, 'invalid_argv', 'argv must contain at least the program name');
  // Mount points: absolute, normalized, each used once ('/' allowed: a folder preopened as the guest's root).
  const points = [
    ...(req.mounts.readOnly ?? []).map((m) => m.at),
    ...(req.mounts.workspace ? ['/workspace'] : []),
    ...(req.mounts.views ?? []).map((m) => m.at),
    ...(req.mounts.tmp ? ['/tmp'] : []),
  ];
  const seen = new Set<string>();
  for (const at of points) {
    const ok =
      at === '/' ||
      (/^\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(at) && !at.split('/').some((c) => c === '.' || c === '..'));
    if (!ok || seen.has(at)) {
      throw new ShadowboxError(
        ErrorCodes.InvalidParams,
        'invalid_mount',
        `mount point ${JSON.stringify(at)} is not allowed`,
        {
          at,
        },
      );
    }
    seen.add(at);
  }
  if (req.cwd !== undefined && req.cwd !== '/' && !seen.has(req.cwd)) {
    throw new ShadowboxError(
      ErrorCodes.InvalidParams,
      'invalid_cwd',
      `the working directory ${req.cwd} is not a mount point`,
      {
        cwd: req.cwd,
      },
    );
  }
}

/** Creates the WASI runtime: a module cache, a warm worker pool, and the optional wasmtime runner. */
export function createWasiRuntime(deps: WasiRuntimeDeps = {}): WasiRuntime {
  const cache = new ModuleCache();
  const pool = new WorkerPool(deps.poolSize ?? 2, deps.maxRunsPerWorker ?? 1);
  const wasmtime = deps.wasmtimePath === undefined ? findWasmtime() : deps.wasmtimePath;
  const netFetch = deps.netFetch ?? createNetFetch(deps.audit ? { audit: deps.audit } : {});

  // The run's grant: its manifest rules and the person's policy decide every request.
  function bridge(req: WasiRunRequest): FetchBridge {
    const grant = req.netFetch?.allowed ? req.netFetch : null;
    const workspace = req.workspaceRoot ?? req.mounts.workspace?.root;
    return createFetchBridge(
      grant
        ? (request, o) =>
            netFetch.fetch(request, {
              rules: grant.rules,
              ...(grant.authorize ? { authorize: grant.authorize } : {}),
              ...(req.sessionId ? { sessionId: req.sessionId } : {}),
              ...(workspace ? { workspace } : {}),
              maxBytes: o.maxBytes,
              signal: o.signal,
            })
        : null,
    );
  }

  return {
    warm: () => pool.fill(),
    async run(req: WasiRunRequest): Promise<WasiRunResult> {
      validate(req);
      if (req.runner === 'wasmtime') {
        if (req.netFetch?.allowed) {
          throw new ShadowboxError(
            ErrorCodes.WasiCapabilityUnsupported,
            'netfetch_requires_inprocess',
            'netFetch needs the in-process runner: the wasmtime CLI cannot provide custom host imports',
          );
        }
        if (!wasmtime)
          throw new ShadowboxError(
            ErrorCodes.WasiRunnerUnavailable,
            'wasmtime_not_found',
            'no wasmtime binary found (PATH or SHADOWBOX_WASMTIME)',
          );
        return runWasmtime(wasmtime, req);
      }
      const maxPages = pagesFor(req.limits.memoryBytes);
      const { module, sha256, memory } = await cache.get(req.module, maxPages);
      const r = await runInprocess(req, {
        pool,
        module,
        maxPages,
        fetch: bridge(req),
        moduleKey: `${sha256}:${maxPages}`,
        ...(memory ? { memory } : {}),
      });
      deps.logger?.debug(
        `wasi run ${sha256.slice(0, 12)} ${req.argv[0] ?? ''}: ${r.outcome} exit=${String(r.exitCode)} ${r.durationMs.toFixed(1)} ms changed=${r.changed.length}`,
      );
      return r;
    },
    close: () => pool.close(),
  };
}
