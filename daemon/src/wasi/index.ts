// Sandboxed WASI preview1 runtime (in-process worker pool, optional wasmtime CLI) and the run_bundle
// and bundle tools on it (their netFetch goes through ../net). Other capabilities import only this file.
export { createWasiRuntime, type WasiRuntimeDeps } from './runtime.js';
export type {
  WasiLimits,
  WasiMounts,
  WasiModuleSource,
  WasiOutcome,
  WasiRunRequest,
  WasiRunResult,
  WasiRuntime,
  ReadOnlyMount,
  ViewMount,
} from './types.js';
export { findWasmtime } from './wasmtime-runner.js';
export { TRUNCATION_MARKER } from './inprocess-runner.js';
export {
  createRunBundleTool,
  runWasiCommand,
  describeWasiRun,
  parseAllowEntry,
  RunBundleInput,
  type RunBundleDeps,
  type BundleForRun,
  type BundleEntryForRun,
  type BundleRunOptions,
} from './run-bundle-tool.js';
export { createManifestTools } from './bundle-tools.js';
export { createRunWasmTool, RunWasmInput, type RunWasmDeps } from './run-wasm-tool.js';
export { createBundleAdapter } from './bundle-adapter.js';
// Building blocks for capabilities that drive their own runs (the python tool): the in-process
// runner with its lazy /workspace bridge, the worker pool (which also compiles a module file off the
// main thread, its memory capped and made an import so a reused worker can reuse it), and the typed
// error of a module that rewrite refuses.
export { runInprocess, type InprocessDeps } from './inprocess-runner.js';
export { WorkerPool } from './worker-pool.js';
export { rewriteRefusal } from './rewrite-error.js';
export type { CompileReply, DetachedData, MemoryLimits } from './worker/protocol.js';
export { closeDetached, detachedUnchanged } from './worker/detached-data.js';
export { pagesFor } from './module-cache.js';
// Open host files a read-only mount serves on demand, each read checked against the file as opened (python's stdlib).
export {
  openHostFile,
  closeHostFile,
  hostFileUnchanged,
  type HostFileRef,
  type HostFileFault,
} from './host/host-file.js';
export { workerEntry } from './worker-pool.js';
