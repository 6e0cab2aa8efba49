// Messages between the daemon's main thread and a sandbox worker (both sides import these types).
import type { MessagePort } from 'node:worker_threads';

/** A mount as the worker builds it. `view` mounts are loaded lazily over the bridge by index. */
export type MountSpec =
  | { kind: 'files'; at: string; files: { path: string; data: Uint8Array | SharedArrayBuffer }[] }
  | { kind: 'view'; at: string; index: number; access: 'ro' | 'rw' }
  | { kind: 'tmp'; at: string };

/** One run. */
export interface Job {
  module: object;
  argv: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  mounts: MountSpec[];
  /** Guest working directory ('/' gives a root preopen; anything else a '.' preopen there). */
  cwd: string;
  netFetch: boolean;
  stdoutBytes: number;
  stderrBytes: number;
  fsBytes: number;
  /** Int32 flag the bridge's replies are signalled on. */
  ctl: SharedArrayBuffer;
  port: MessagePort | null;
}

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

/** Messages the worker posts. */
export type WorkerMessage =
  | { type: 'output'; fd: 1 | 2; chunks: Uint8Array[] }
  | {
      type: 'done';
      exitCode: number | null;
      error: { reason: string; message: string } | null;
      memBytes: number;
      changes: Change[];
      timings: { setupMs: number; instantiateMs: number; runMs: number };
    };
