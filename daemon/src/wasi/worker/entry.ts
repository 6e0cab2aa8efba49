// The sandbox worker: runs WASI jobs one at a time, each a new instance over a new file tree
// (tree.ts) with shadowbox's WASI host (../host). Spawned by WorkerPool from the compiled file.
// Host data reaches the guest only as the job's read-only files and through the bridge: the worker
// posts {op, args} on the job's MessagePort, blocks in Atomics.wait, and reads the reply with
// receiveMessageOnPort (readdir/readFile of a view mount, netFetch).
import { parentPort, receiveMessageOnPort } from 'node:worker_threads';
import { TTY_RIGHTS } from '../host/defs.js';
import { FdTable } from '../host/fd-table.js';
import { FsContext, type HostClock } from '../host/memfs.js';
import { wasm, type WasmInstance } from '../host/wasm-api.js';
import { createWasiHost } from '../host/wasi-host.js';
import { collectChanges } from './changes.js';
import { compileFile } from './compile.js';
import { DetachedDataChanged, fillData } from './detached-data.js';
import {
  CTL_BYTES,
  CTL_DONE,
  CTL_REPLY,
  MEMORY_IMPORT,
  OUTPUT_HEADER,
  outputBuffer,
  type BridgeCall,
  type BridgeReply,
  type Change,
  type Compile,
  type DetachedData,
  type Job,
  type MemoryLimits,
  type Prepare,
  type WorkerMessage,
} from './protocol.js';
import { SpareMemory, type TakenMemory } from './spare-memory.js';
import { buildTree } from './tree.js';

/** Thrown by an output stream past its cap: ends the run with output_limit. */
class OutputLimit extends Error {}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** The real clocks; sleeping blocks the thread without spinning (terminate() still stops it). */
const realClock: HostClock = {
  realtimeNs: () => BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n,
  monotonicNs: () => process.hrtime.bigint(),
  sleep: (ns) => {
    let left = Number(ns) / 1e6;
    while (left > 0) {
      const step = Math.min(left, 1 << 30);
      Atomics.wait(sleeper, 0, 0, step);
      left -= step;
    }
  },
};

type Fn = (...args: never[]) => number;

/** An instance made ahead of its job, its imports calling whatever the job binds into `bind`. */
interface Prepared {
  key: string;
  instance: Promise<WasmInstance>;
  /** The memory it imports, when its module imports one. */
  memory: TakenMemory | null;
  bind: { wasi: Record<string, Fn> | null; netFetch: Fn | null };
}
let prepared: Prepared | null = null;
/** The memory of the last run, kept for the next instance of a module that imports its memory. */
const spare = new SpareMemory();

/** The names of every WASI import (from a throwaway host). */
const WASI_NAMES = Object.keys(
  createWasiHost({
    args: [],
    env: [],
    fds: new FdTable(),
    root: null as never,
    ctx: new FsContext(realClock, 0),
  }).imports,
);

/**
 * Instantiates `module` ahead of its job: instantiation copies the module's data segments (CPython's
 * pre-initialized memory is 9.4 MB, read from its file when detached), which then costs nothing on the job's
 * path. The instance has never run; its imports reach the job's host once the job binds it.
 */
function prepare(module: object, key: string, limits: MemoryLimits | undefined, data: DetachedData | undefined): void {
  const bind: Prepared['bind'] = { wasi: null, netFetch: null };
  const wasi = Object.fromEntries(WASI_NAMES.map((n) => [n, (...a: never[]) => bind.wasi![n](...a)]));
  const netFetch = (...a: never[]) => (bind.netFetch ? bind.netFetch(...a) : -1);
  const memory = limits ? spare.take(limits) : null;
  const instance = instantiate(
    module,
    {
      wasi_snapshot_preview1: wasi,
      shadowbox: { net_fetch: netFetch, ...(memory ? { [MEMORY_IMPORT.name]: memory.memory } : {}) },
    },
    memory,
    data,
  );
  const p: Prepared = { key, instance, memory, bind };
  prepared = p;
  instance.catch(() => {
    if (prepared === p) prepared = null;
  });
}

/**
 * Instantiates `module`; with `data` (its segments left in its file), then writes them into the imported memory
 * before anything runs. A module with detached data always imports its memory.
 */
async function instantiate(
  module: object,
  imports: Record<string, Record<string, unknown>>,
  memory: TakenMemory | null,
  data: DetachedData | undefined,
): Promise<WasmInstance> {
  const inst = await wasm.instantiate(module, imports);
  if (data) {
    if (!memory) throw new DetachedDataChanged('a module with detached data segments must import its memory');
    fillData(memory.memory.buffer, data);
  }
  return inst;
}

async function runJob(job: Job, post: (m: WorkerMessage) => void): Promise<void> {
  const t0 = performance.now();
  const ctl = new Int32Array(job.ctl);
  const port = job.port;
  const call = (op: BridgeCall['op'], args: BridgeCall['args']): BridgeReply => {
    if (!port) return { ok: false };
    Atomics.store(ctl, CTL_REPLY, 0);
    port.postMessage({ op, args } satisfies BridgeCall);
    Atomics.wait(ctl, CTL_REPLY, 0);
    let m = receiveMessageOnPort(port);
    while (m === undefined) {
      Atomics.wait(ctl, CTL_REPLY, 1, 1);
      m = receiveMessageOnPort(port);
    }
    return m.message as BridgeReply;
  };

  // Output goes straight into the shared buffers (kept even if the run is stopped); past a
  // stream's capacity the bytes that fit are kept and the run ends (output_limit).
  let overflow: 0 | 1 | 2 = 0;
  const sink = (fd: 1 | 2, buf: SharedArrayBuffer) => {
    const count = new Int32Array(buf, 0, 1);
    const bytes = new Uint8Array(buf, OUTPUT_HEADER);
    return {
      write(data: Uint8Array): void {
        const used = count[0];
        const room = bytes.byteLength - used;
        const n = Math.min(room, data.byteLength);
        bytes.set(data.subarray(0, n), used);
        Atomics.store(count, 0, used + n);
        if (data.byteLength > room) {
          overflow = fd;
          throw new OutputLimit();
        }
      },
    };
  };

  const ctx = new FsContext(realClock, job.fsBytes);
  const tree = buildTree(ctx, job.mounts, job.cwd, (op, args) => call(op, args));
  const fds = new FdTable();
  fds.add({ type: 'input', data: job.stdin, pos: 0, flags: 0, rightsBase: TTY_RIGHTS, rightsInheriting: 0n });
  fds.add({ type: 'output', sink: sink(1, job.stdout), flags: 0, rightsBase: TTY_RIGHTS, rightsInheriting: 0n });
  fds.add({ type: 'output', sink: sink(2, job.stderr), flags: 0, rightsBase: TTY_RIGHTS, rightsInheriting: 0n });
  for (const p of tree.preopens) fds.add(p);
  const env = Object.entries(job.env).map(([k, v]) => `${k}=${v}`);
  const host = createWasiHost({ args: job.argv, env, fds, root: tree.root, ctx });

  let inst: WasmInstance | null = null;
  const imports: Record<string, Record<string, unknown>> = { wasi_snapshot_preview1: host.imports };
  let netFetch: Fn | null = null;
  if (job.netFetch) {
    netFetch = (reqPtr: number, reqLen: number, outPtr: number, outCap: number): number => {
      const mem = new Uint8Array(inst!.exports.memory!.buffer);
      reqPtr >>>= 0;
      reqLen >>>= 0;
      outPtr >>>= 0;
      outCap >>>= 0;
      if (reqPtr + reqLen > mem.length || outPtr + outCap > mem.length) return -1;
      const r = call('fetch', { request: mem.slice(reqPtr, reqPtr + reqLen), cap: outCap });
      const reply = r.ok && r.data ? r.data : new Uint8Array(0);
      const n = Math.min(reply.byteLength, outCap);
      new Uint8Array(inst!.exports.memory!.buffer).set(reply.subarray(0, n), outPtr);
      return n;
    };
    imports.shadowbox = { net_fetch: netFetch };
  }
  let exitCode: number | null = null;
  let error: { reason: string; message: string } | null = null;
  let memory: TakenMemory | null = null;
  const t1 = performance.now();
  let t2 = t1;
  try {
    const ahead = prepared && job.moduleKey !== undefined && prepared.key === job.moduleKey ? prepared : null;
    prepared = null;
    if (ahead) {
      ahead.bind.wasi = host.imports;
      ahead.bind.netFetch = netFetch;
      memory = ahead.memory;
      inst = await ahead.instance.catch(async (e: unknown) => {
        // Made ahead from data since closed or changed (a prepare retired meanwhile): this job's own data decides.
        if (!(e instanceof DetachedDataChanged) || !job.data) throw e;
        if (memory) spare.keep(memory);
        memory = job.memory ? spare.take(job.memory) : null;
        if (memory)
          imports[MEMORY_IMPORT.module] = { ...imports[MEMORY_IMPORT.module], [MEMORY_IMPORT.name]: memory.memory };
        return instantiate(job.module, imports, memory, job.data);
      });
    } else {
      if (job.memory) {
        memory = spare.take(job.memory);
        imports[MEMORY_IMPORT.module] = { ...imports[MEMORY_IMPORT.module], [MEMORY_IMPORT.name]: memory.memory };
      }
      inst = await instantiate(job.module, imports, memory, job.data);
    }
    t2 = performance.now();
    exitCode = host.start(inst);
  } catch (e) {
    if (overflow)
      error = { reason: 'output_limit', message: `${overflow === 1 ? 'stdout' : 'stderr'} exceeded its limit` };
    else if (e instanceof DetachedDataChanged) error = { reason: 'module_changed', message: e.message };
    else error = { reason: 'trap', message: e instanceof Error ? e.message : String(e) };
  }
  const memBytes = inst?.exports.memory ? inst.exports.memory.buffer.byteLength : 0;
  const changes: Change[] = [];
  // A read-only host file that failed its check served no bytes: what the guest made of it is not applied (a link to it
  // in /workspace would be written empty).
  if (!ctx.hostFault && (!error || error.reason === 'output_limit')) {
    for (const [index, v] of tree.views) changes.push(...collectChanges(index, v.node));
  }
  const t3 = performance.now();
  Atomics.store(ctl, CTL_DONE, 1);
  post({
    type: 'done',
    exitCode,
    error,
    memBytes,
    memoryReused: memory?.reused ?? false,
    changes,
    timings: { setupMs: t1 - t0, instantiateMs: t2 - t1, runMs: t3 - t2 },
    ...(ctx.hostFault ? { hostFault: ctx.hostFault } : {}),
  });
  // This run's memory goes to the next instance (zeroed), unless the run grew it.
  if (memory) spare.keep(memory);
  // The next job of a reused worker finds its instance made while this one was idle.
  if (job.prepareNext && job.moduleKey !== undefined) prepare(job.module, job.moduleKey, job.memory, job.data);
}

// A 300-byte module (fixtures/warmup.c) run once at spawn, so the host's code is parsed and
// compiled before the first real job: single-use workers otherwise pay that on every run.
const WARMUP =
  'AGFzbQEAAAABFgRgAn9/AX9gBH9/f38Bf2ABfwBgAAACwQEFFndhc2lfc25hcHNob3RfcHJldmlldzEOYXJnc19zaXplc19nZXQAABZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxEWVudmlyb25fc2l6ZXNfZ2V0AAAWd2FzaV9zbmFwc2hvdF9wcmV2aWV3MQ5mZF9wcmVzdGF0X2dldAAAFndhc2lfc25hcHNob3RfcHJldmlldzEIZmRfd3JpdGUAARZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxCXByb2NfZXhpdAACAwIBAwUDAQACBggBfwFBoIgECwcTAgZtZW1vcnkCAAZfc3RhcnQABQrSAQHPAQECfyOAgICAAEEgayIAJICAgIAAIABBHGogAEEYahCAgICAABogAEEcaiAAQRhqEIGAgIAAGgJAQQNBkIiAgAAQgoCAgAANAEEEQZCIgIAAEIKAgIAADQBBBUGQiICAABCCgICAAA0AQQZBkIiAgAAQgoCAgAANAEEHQZCIgIAAEIKAgIAAGgsgAEEAKQOIiICAADcDCEEyIQEDQEEBIABBCGpBASAAQRRqEIOAgIAAGiABQX9qIgENAAtBABCEgICAACAAQSBqJICAgIAACwsXAQBBgAgLEHdhcm0KAAAAAAQAAAUAAAA=';
const warmed = runJob(
  {
    type: 'job',
    module: new wasm.Module(Buffer.from(WARMUP, 'base64')),
    argv: ['warmup'],
    env: { A: 'b' },
    stdin: new Uint8Array(0),
    mounts: [
      { kind: 'files', at: '/w', files: [{ path: 'a/b', data: new Uint8Array(1) }] },
      { kind: 'tmp', at: '/tmp' },
    ],
    cwd: '/',
    netFetch: false,
    stdout: outputBuffer(1 << 20),
    stderr: outputBuffer(1 << 20),
    fsBytes: 1 << 20,
    ctl: new SharedArrayBuffer(CTL_BYTES),
    port: null,
  },
  () => undefined,
).catch(() => undefined);

parentPort?.on('message', (m: Job | Prepare | Compile) => {
  if (m.type === 'compile')
    void compileFile(m).then((r) => {
      m.port.postMessage(r);
      m.port.close();
    });
  else if (m.type === 'prepare') void warmed.then(() => prepare(m.module, m.moduleKey, m.memory, m.data));
  else void warmed.then(() => runJob(m, (msg) => parentPort!.postMessage(msg)));
});
