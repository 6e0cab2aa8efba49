import type { WorkspaceView } from '../shadow/index.js';
import type { FetchAuthorizer, HostRule } from '../net/index.js';
import type { HostFileFault, HostFileRef } from './host/host-file.js';

/** Per-invocation limits; a run that hits one ends with a typed outcome, never a throw. */
export interface WasiLimits {
  wallMs: number;
  /** Linear-memory cap, enforced by rewriting the module's declared maximum (rounded down to 64 KiB pages). */
  memoryBytes: number;
  stdoutBytes: number;
  stderrBytes: number;
  /** Bytes the guest may add to files in one run (/tmp, its /workspace copy); default 256 MiB. Past it: ENOSPC. */
  fsBytes?: number;
}

/**
 * A read-only file tree mounted at `at` (e.g. "/bundle" or "/usr/local"); paths are relative to it. A file is its
 * bytes, a loader of them, or an open host file read on demand (host/host-file.ts: python's stdlib), whose reads
 * fail (EIO, the run's `hostFault`) once it differs from what was opened. The caller keeps that descriptor open
 * until the run has ended.
 */
export interface ReadOnlyMount {
  at: string;
  files: Map<string, Uint8Array | (() => Uint8Array) | HostFileRef>;
}

/**
 * A folder of a view mounted at any guest path (including "/"), loaded lazily. `prefix` selects a
 * sub-folder of the view (view-relative). With 'rw' the guest's changes are applied to the view at
 * exit (a session's shadow view: reviewable, never the person's files); with 'ro' the guest works on
 * a private copy and its changes are listed in `refusedWrites` and discarded.
 */
export interface ViewMount {
  at: string;
  view: WorkspaceView;
  access: 'ro' | 'rw';
  prefix?: string;
}

/** What the guest can see: read-only trees, views (the workspace at /workspace, others anywhere), an in-memory /tmp. Nothing else. */
export interface WasiMounts {
  readOnly?: ReadOnlyMount[];
  /** Shorthand for a view mount at /workspace. */
  workspace?: WorkspaceView;
  /** 'ro': the guest may change its private copy, but nothing is applied to the view (reported as refused). */
  workspaceAccess?: 'ro' | 'rw';
  views?: ViewMount[];
  tmp?: boolean;
}

/** The module: raw bytes (hashed and compiled once), or a hash key plus a loader called on cache miss. */
export type WasiModuleSource = { bytes: Uint8Array } | { sha256: string; load: () => Promise<Uint8Array> };

/** One invocation. argv/env are passed exactly as given; the host environment is never visible. */
export interface WasiRunRequest {
  module: WasiModuleSource;
  mounts: WasiMounts;
  argv: string[];
  env?: Record<string, string>;
  stdin?: Uint8Array;
  /**
   * Guest working directory: '/workspace' (the default when the workspace is mounted) or any mounted
   * folder makes relative paths resolve there; '/' (the default otherwise) preopens the root, so
   * absolute paths outside every mount are ENOENT rather than ENOTCAPABLE and `/` can be listed.
   */
  cwd?: string;
  limits: WasiLimits;
  /**
   * Grants netFetch: every request (each redirect hop too) must match `rules` and, when given, be allowed
   * by `authorize` (the person's policy, asked for the host and for every resolved address).
   */
  netFetch?: { allowed: boolean; rules: HostRule[]; authorize?: FetchAuthorizer };
  runner?: 'inprocess' | 'wasmtime';
  signal?: AbortSignal;
  sessionId?: string;
  /** Real workspace root, for audit entries (defaults to the view's root). */
  workspaceRoot?: string;
  /** Live output while the module runs (the in-process runner reads its output buffers every 100 ms). */
  onOutput?: (stream: 'stdout' | 'stderr', bytes: Uint8Array) => void;
  /**
   * The in-process runner lists /workspace's top folder while the guest starts, for a guest known to look in it
   * at once (python's launcher looks for /workspace/.venv): the guest's first look then waits for a reply already
   * made, not for a listing begun only then. The listing is the view's, as the guest's own ask would get it.
   */
  listWorkspaceAhead?: boolean;
}

/** How a run ended. */
export type WasiOutcome = 'exited' | 'timeout' | 'memory_limit' | 'trap' | 'output_limit' | 'cancelled';

/** What a run produced: expected failures are values (outcome), not exceptions. */
export interface WasiRunResult {
  /** The guest's exit code; null when it did not exit by itself. */
  exitCode: number | null;
  stdout: Uint8Array;
  stderr: Uint8Array;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  outcome: WasiOutcome;
  trapMessage?: string;
  durationMs: number;
  /** Workspace-relative paths the run wrote, created or removed in a 'rw' view (prefix included). */
  changed: string[];
  /** Workspace changes the view refused (e.g. protected paths); the rest were applied. */
  refusedWrites?: { path: string; reason: string }[];
  runner: 'inprocess' | 'wasmtime';
  /** In-process only: time inside the worker (file systems, instantiate, run + change scan). */
  timings?: { setupMs: number; instantiateMs: number; runMs: number };
  /** In-process only: true when the instance got an earlier run's memory, zeroed (a module that imports its memory). */
  memoryReused?: boolean;
  /** A host-backed read-only file changed after it was opened: its reads failed (EIO) and this says which. */
  hostFault?: HostFileFault;
}

/** Runs WASI preview1 modules in a sandbox. */
export interface WasiRuntime {
  run(req: WasiRunRequest): Promise<WasiRunResult>;
  /** Spawn the warm pool now (otherwise done lazily on first run). */
  warm(): void;
  close(): Promise<void>;
}
