// shadowbox's own WASI preview1 host (replacing @bjorn3/browser_wasi_shim, whose 0.4.2 had no
// symlinks, rights, file times or O_APPEND and read poll_oneoff's clock flags at the wrong offset).
// Written here rather than taken from npm: node:wasi is not a sandbox, and the other JS
// implementations either wrap a host file system or lack the same features; ours has only the
// in-memory tree the worker builds, so a guest reaches nothing else. Checked against the official
// wasi-testsuite (test/conformance/wasi).
import { fdCalls } from './calls-fd.js';
import { pathCalls } from './calls-path.js';
import { sysCalls, type ProcessInfo } from './calls-sys.js';
import { E } from './defs.js';
import type { FdTable } from './fd-table.js';
import { HostCore, ProcExit } from './host-core.js';
import type { DirNode, FsContext } from './memfs.js';
import type { WasmInstance } from './wasm-api.js';

export { ProcExit } from './host-core.js';

/** What a run's WASI host is built from: the process info, its descriptors (stdio, preopens), the tree. */
export interface WasiHostOptions extends ProcessInfo {
  fds: FdTable;
  root: DirNode;
  ctx: FsContext;
}

/** A WASI host for one instance: `imports` for instantiation, then `start(instance)`. */
export interface WasiHost {
  imports: Record<string, (...args: never[]) => number>;
  /** Runs `_start`; returns the exit code (0 when it returns normally). Traps and limits throw. */
  start(instance: WasmInstance): number;
  /** Binds the memory without running (reactors, tests). */
  bind(instance: WasmInstance): void;
}

/** Creates the host. A bad guest pointer in any call gives EFAULT instead of throwing. */
export function createWasiHost(opts: WasiHostOptions): WasiHost {
  const core = new HostCore(opts.fds, opts.root, opts.ctx);
  const calls = { ...sysCalls(core, opts), ...fdCalls(core), ...pathCalls(core) };
  const imports: Record<string, (...args: never[]) => number> = {};
  for (const [name, fn] of Object.entries(calls)) {
    imports[name] = (...args: never[]) => {
      try {
        return fn(...args);
      } catch (e) {
        if (e instanceof RangeError) return E.FAULT;
        throw e;
      }
    };
  }
  const bind = (instance: WasmInstance): void => {
    const mem = instance.exports.memory;
    if (!mem) throw new Error('the module exports no memory');
    core.memory = mem;
  };
  return {
    imports,
    bind,
    start(instance) {
      bind(instance);
      const start = instance.exports._start;
      if (typeof start !== 'function') throw new Error('the module exports no _start');
      try {
        start();
        return 0;
      } catch (e) {
        if (e instanceof ProcExit) return e.code;
        throw e;
      }
    },
  };
}
