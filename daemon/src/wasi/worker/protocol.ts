// Messages between the daemon's main thread and a sandbox worker (both sides import these types).
import type { MessagePort } from 'node:worker_threads';
import type { FileIdentity } from '../host/host-file.js';
import type { HostFileFault, HostFileRef } from '../host/host-file.js';

/** Where a module rewritten by ../memory-import.ts imports its memory from (the worker provides it). */
export const MEMORY_IMPORT = { module: 'shadowbox', name: 'memory' } as const;

/** The limits of an imported memory, in 64 KiB pages (what `new WebAssembly.Memory` is given). */
export interface MemoryLimits {
  initial: number;
  maximum?: number;
}

/**
 * A module's data segments left in its file instead of in the compiled module (../memory-import.ts): V8 keeps a
 * compiled module's bytes for its life, and CPython's pre-initialized memory is 9.4 of its 14 MB. Each instance's
 * memory is filled from `fd` (opened when the file was hashed, kept open by whoever owns the compiled module) after
 * instantiation and before anything runs, and only while the file is still the one that was hashed (`file`).
 */
export interface DetachedData {
  fd: number;
  file: FileIdentity;
  /**
   * [memory address, file offset, length] for each active segment, in file order, on a SharedArrayBuffer (posted
   * with every job without a copy).
   */
  segments: Uint32Array;
}

/** A mount as the worker builds it. `view` mounts are loaded lazily over the bridge by index. */
export type MountSpec =
  | { kind: 'files'; at: string; files: { path: string; data: Uint8Array | SharedArrayBuffer | HostFileRef }[] }
  | { kind: 'view'; at: string; index: number; access: 'ro' | 'rw' }
  | { kind: 'tmp'; at: string };

/** One run. */
export interface Job {
  type: 'job';
  module: object;
  /**
   * Identity of `module` (its content hash and memory cap): a worker that instantiated this module
   * ahead (see Prepare) uses that instance. Each instance still runs once.
   */
  moduleKey?: string;
  /** After this run, instantiate `module` again for the next job (the pool will reuse this worker). */
  prepareNext?: boolean;
  /**
   * Set when `module` imports its memory (shadowbox.memory, see ../memory-import.ts): its limits. The
   * worker passes a memory of these limits, new or an earlier run's zeroed (worker/spare-memory.ts).
   */
  memory?: MemoryLimits;
  /** Set when `module`'s data segments were left in its file: each instance's memory is filled from it. */
  data?: DetachedData;
  argv: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  mounts: MountSpec[];
  /** Guest working directory ('/' gives a root preopen; anything else a '.' preopen there). */
  cwd: string;
  netFetch: boolean;
  /**
   * Output buffers (stdout, stderr): an Int32 byte count at 0, the bytes from 8. The main thread
   * reads them whenever the run ends, also after a timeout, so output written before it is kept.
   * Capacity (byteLength - 8) is the stream's limit.
   */
  stdout: SharedArrayBuffer;
  stderr: SharedArrayBuffer;
  fsBytes: number;
  /** CTL_BYTES: Int32 flags, CTL_REPLY (the bridge's replies are signalled on it) and CTL_DONE. */
  ctl: SharedArrayBuffer;
  port: MessagePort | null;
}

/** Job.ctl's size and its Int32 slots. */
export const CTL_BYTES = 8;
/** The bridge's reply is ready (1) or awaited (0). */
export const CTL_REPLY = 0;
/**
 * Set to 1 by the worker just before it posts its 'done' message: the run ended by itself. A deadline or cancel
 * that the main thread gets to later (a busy event loop runs due timers before it reads messages) stops nothing,
 * and the run's result, on its way, is the answer.
 */
export const CTL_DONE = 1;

/** Instantiate `module` now, while idle, so the next job with `moduleKey` skips instantiation. */
export interface Prepare {
  type: 'prepare';
  module: object;
  moduleKey: string;
  /** As Job.memory. */
  memory?: MemoryLimits;
  /** As Job.data. */
  data?: DetachedData;
}

/**
 * Read a module file, check it against the hash and size its signed manifest gives, rewrite its memory (capped,
 * made an import where it can be) and compile it, off the main thread. The reply (CompileReply) comes on `port`.
 */
export interface Compile {
  type: 'compile';
  /** The module file, opened by the pool (descriptors a worker opens are closed when it stops). */
  fd: number;
  sha256: string;
  size: number;
  maxPages: number;
  /**
   * Leave the data segments in the file when they can be (CompileReply's `data`): every run of the module must then
   * be given that `data`, or its memory starts empty.
   */
  detachData?: boolean;
  port: MessagePort;
}

/**
 * A compiled module, or why there is none (bytes that differ from the manifest's are never compiled). `data`: its
 * data segments were left in the file, whose descriptor the receiver now owns (closeDetached when the module is
 * dropped).
 */
export type CompileReply =
  | { ok: true; module: object; memory?: MemoryLimits; data?: DetachedData }
  | {
      ok: false;
      reason: 'file_mismatch' | 'invalid_module' | 'memory_limit';
      message: string;
      details?: Record<string, number>;
    };

/** One entry of a view listing. */
export interface ListedEntry {
  name: string;
  type: 'file' | 'dir';
  size: number;
  mode: number;
  mtimeMs: number;
}

/** A synchronous call from the worker into the main thread. */
export interface BridgeCall {
  op: 'readdir' | 'readFile' | 'fetch';
  args: { mount?: number; path?: string; request?: Uint8Array; cap?: number };
}

/** The main thread's reply. */
export type BridgeReply = { ok: true; data?: Uint8Array; entries?: ListedEntry[] } | { ok: false; reason?: string };

/** A change the guest made under a view mount, applied (rw) or refused (ro) by the main thread. */
export type Change =
  | { op: 'write'; mount: number; path: string; data: Uint8Array; mode?: number }
  | { op: 'mkdir'; mount: number; path: string }
  | { op: 'remove'; mount: number; path: string }
  | { op: 'symlink'; mount: number; path: string; target: string };

/** Offset of the bytes in an output buffer (after the Int32 count, 8-aligned). */
export const OUTPUT_HEADER = 8;

/** A new output buffer for a stream capped at `cap` bytes. */
export function outputBuffer(cap: number): SharedArrayBuffer {
  return new SharedArrayBuffer(OUTPUT_HEADER + cap);
}

/** The bytes written to an output buffer so far (a copy). */
export function outputBytes(buf: SharedArrayBuffer): Uint8Array {
  const n = Atomics.load(new Int32Array(buf, 0, 1), 0);
  return new Uint8Array(buf, OUTPUT_HEADER, n).slice();
}

/** The message the worker posts when a run ends by itself. */
export interface WorkerMessage {
  type: 'done';
  exitCode: number | null;
  error: { reason: string; message: string } | null;
  memBytes: number;
  /** The instance's memory was an earlier run's, zeroed (Job.memory); false: a new memory. */
  memoryReused: boolean;
  changes: Change[];
  timings: { setupMs: number; instantiateMs: number; runMs: number };
  /** A host-backed read-only file changed after it was opened: its reads failed (EIO). */
  hostFault?: HostFileFault;
}
