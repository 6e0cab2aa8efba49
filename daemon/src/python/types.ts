import type { FileIdentity } from '../file-identity.js';
import type { GuestFetch } from '../net/index.js';
import type { WorkspaceView } from '../shadow/index.js';

/** One Python run: code, a workspace file, or a module, with args and stdin. */
export interface PythonRunInput {
  /** Source to run, like `python3 -c CODE`. */
  code?: string;
  /** Workspace-relative script path, like `python3 FILE`. */
  file?: string;
  /** Module to run, like `python3 -m MODULE`. */
  module?: string;
  args?: string[];
  stdin?: string | Uint8Array;
  timeoutMs?: number;
  /** Extra environment variables for the guest (PWD, HOME, PYTHONHOME are fixed). */
  env?: Record<string, string>;
}

/** What a run produced; expected failures (exit code, timeout, limits) are values, not throws. */
export interface PythonRunResult {
  /** null when the guest did not exit by itself (timeout, cancel, trap, output limit). */
  exitCode: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  timedOut: boolean;
  cancelled: boolean;
  /** A limit or trap that ended the run: output_limit, memory_limit, trap. */
  error: { reason: string; message: string } | null;
  /** Workspace-relative paths written or deleted in the shadow view. */
  changed: string[];
  /** Changes the view refused (e.g. a protected path); the others were applied. */
  refusedWrites?: { path: string; reason: string }[];
  /** Where the time went inside the worker: file systems, instantiate, run + change scan. */
  timings?: { setupMs: number; instantiateMs: number; runMs: number };
  /** The instance got an earlier call's memory, zeroed (diagnostic; the tests check isolation holds then). */
  memoryReused?: boolean;
}

/**
 * Performs a guest fetch (`shadowbox.fetch`, urllib): checks the person's policy, resolves and connects,
 * returns the response, or throws a NetFetchRefused ShadowboxError whose reason the guest receives.
 */
export type PythonNetFetch = GuestFetch;

/** Where the python bundle's files are: a verified bundle's files folder (python.wasm, lib/). */
export interface PythonBundleFiles {
  /** Folder that becomes /usr/local in the guest (read-only). */
  filesDir: string;
  /**
   * python.wasm, not read yet: its file and the SHA-256 and size its signed manifest gives it. A worker thread
   * reads it, refuses bytes that differ, and compiles what it hashed (wasi/worker/compile.ts).
   */
  module: { path: string; sha256: string; size: number };
  /**
   * The guest's /usr/local/lib: each file under `lib/` the signed manifest lists (path relative to `filesDir`) and
   * its identity when the bundle was checked (LocatedBundle.checked). Only these are opened, and one whose
   * descriptor is another file (replaced or changed since the check) is refused (python/stdlib.ts).
   */
  lib: ReadonlyMap<string, FileIdentity>;
}

/** What the installed bundle claims its module is (PythonDeps.claimBundle): nothing else of it is used. */
export type PythonModuleClaim = Pick<PythonBundleFiles, 'filesDir' | 'module'>;

/** Per-call context: the session's shadow view (the guest's /workspace). */
export interface PythonRunContext {
  view: WorkspaceView;
  signal?: AbortSignal;
  sessionId?: string;
  /** Live output while CPython runs. */
  onOutput?: (stream: 'stdout' | 'stderr', text: string) => void;
}
