import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import type { WorkspaceView } from '../shadow/index.js';
import type { FetchBridge } from '../net/index.js';
import type { WasiOutcome, WasiRunRequest, WasiRunResult, ViewMount } from './types.js';
import type { WorkerPool } from './worker-pool.js';
import {
  CTL_BYTES,
  CTL_DONE,
  CTL_REPLY,
  OUTPUT_HEADER,
  outputBuffer,
  outputBytes,
  type BridgeCall,
  type BridgeReply,
  type Change,
  type DetachedData,
  type Job,
  type ListedEntry,
  type MemoryLimits,
  type MountSpec,
  type WorkerMessage,
} from './worker/protocol.js';

/** Default cap on file growth per run (/tmp and the guest's copy of /workspace). */
export const DEFAULT_FS_BYTES = 256 * 1024 * 1024;

/** Marker appended to a stream cut at its limit. */
export const TRUNCATION_MARKER = '\n[shadowbox: output truncated]\n';

/** Everything the in-process runner needs besides the request. */
export interface InprocessDeps {
  pool: WorkerPool;
  module: object;
  maxPages: number;
  fetch: FetchBridge | null;
  /** Identity of `module` (hash + memory cap): lets a reused worker instantiate it ahead of the next run. */
  moduleKey?: string;
  /** Set when `module` imports its memory (importMemory): its limits; a reused worker reuses the memory, zeroed. */
  memory?: MemoryLimits;
  /** Set when `module`'s data segments were left in its file (WorkerPool.compile): each instance is filled from it. */
  data?: DetachedData;
}

/** Every view mount of a request in preopen order: the workspace at /workspace, then `views`. */
export function viewMounts(req: WasiRunRequest): ViewMount[] {
  const out: ViewMount[] = [];
  const ws = req.mounts.workspace;
  if (ws) out.push({ at: '/workspace', view: ws, access: req.mounts.workspaceAccess ?? 'rw' });
  out.push(...(req.mounts.views ?? []));
  return out;
}

/** The worker's mount list: read-only trees, views (by index), then /tmp. */
function mountSpecs(req: WasiRunRequest, views: ViewMount[]): MountSpec[] {
  const specs: MountSpec[] = [];
  for (const m of req.mounts.readOnly ?? []) {
    specs.push({
      kind: 'files',
      at: m.at,
      files: [...m.files].map(([path, data]) => ({ path, data: typeof data === 'function' ? data() : data })),
    });
  }
  views.forEach((v, index) => specs.push({ kind: 'view', at: v.at, index, access: v.access }));
  if (req.mounts.tmp) specs.push({ kind: 'tmp', at: '/tmp' });
  return specs;
}

/** Runs one request in a worker from the pool; always resolves with a typed result. */
export async function runInprocess(req: WasiRunRequest, deps: InprocessDeps): Promise<WasiRunResult> {
  const started = performance.now();
  const views = viewMounts(req);
  const mounts = mountSpecs(req, views);
  const ctlBuf = new SharedArrayBuffer(CTL_BYTES);
  const ctl = new Int32Array(ctlBuf);
  const { port1, port2 } = new MessageChannel();
  const slot = deps.pool.take();
  const { worker } = slot;
  const stdoutBuf = takeOutputBuffer(req.limits.stdoutBytes);
  const stderrBuf = takeOutputBuffer(req.limits.stderrBytes);
  const runEnded = new AbortController();
  const cwd = req.cwd ?? (req.mounts.workspace ? '/workspace' : '/');
  // Live output: the worker appends to the shared buffers and publishes the count (Atomics); read what is new.
  const seen = { stdout: 0, stderr: 0 };
  const pump = () => {
    for (const [name, buf] of [
      ['stdout', stdoutBuf],
      ['stderr', stderrBuf],
    ] as const) {
      const n = Atomics.load(new Int32Array(buf, 0, 1), 0);
      if (n > seen[name]) {
        req.onOutput?.(name, new Uint8Array(buf, OUTPUT_HEADER + seen[name], n - seen[name]).slice());
        seen[name] = n;
      }
    }
  };
  const poll = req.onOutput ? setInterval(pump, 100) : null;
  /** Listings begun before the guest asked (listWorkspaceAhead), by mount and path; each serves one ask. */
  const ahead = new Map<string, Promise<ListedEntry[]>>();

  const done = await new Promise<
    { kind: 'done'; m: WorkerMessage } | { kind: 'timeout' | 'cancelled' | 'crash'; message?: string }
  >((resolve) => {
    let settled = false;
    const settle = (v: Parameters<typeof resolve>[0]): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      resolve(v);
    };
    // A run whose worker has posted 'done' ended by itself: its message is the answer, however late the deadline's or
    // the cancel's turn came (a crash after the flag still settles through 'exit' / 'error').
    const ended = () => Atomics.load(ctl, CTL_DONE) === 1;
    const timer = setTimeout(() => {
      if (!ended()) settle({ kind: 'timeout' });
    }, req.limits.wallMs);
    const onAbort = (): void => {
      if (!ended()) settle({ kind: 'cancelled' });
    };
    req.signal?.addEventListener('abort', onAbort, { once: true });
    if (req.signal?.aborted) return settle({ kind: 'cancelled' });
    worker.on('message', (m: WorkerMessage) => settle({ kind: 'done', m }));
    worker.on('exit', () => settle({ kind: 'crash', message: 'the sandbox worker stopped' }));
    worker.on('error', (e: unknown) => settle({ kind: 'crash', message: e instanceof Error ? e.message : String(e) }));
    port1.on('message', (c: BridgeCall) => void answer(c, port1, ctl, views, deps.fetch, runEnded.signal, ahead));
    const job: Job = {
      type: 'job',
      module: deps.module,
      ...(deps.moduleKey !== undefined ? { moduleKey: deps.moduleKey, prepareNext: deps.pool.reusesWorkers } : {}),
      ...(deps.memory ? { memory: deps.memory } : {}),
      ...(deps.data ? { data: deps.data } : {}),
      argv: req.argv,
      env: req.env ?? {},
      stdin: req.stdin ?? new Uint8Array(0),
      mounts,
      cwd,
      netFetch: deps.fetch !== null,
      stdout: stdoutBuf,
      stderr: stderrBuf,
      fsBytes: req.limits.fsBytes ?? DEFAULT_FS_BYTES,
      ctl: ctlBuf,
      port: port2,
    };
    worker.postMessage(job, [port2]);
    // After the post: the listing overlaps the worker's start instead of delaying it. A failure is the guest's
    // ask's to report (answer awaits the same promise); one never asked for is dropped.
    if (req.listWorkspaceAhead && req.mounts.workspace) {
      const listing = listDir(views[0].view, inView(views[0], ''));
      listing.catch(() => undefined);
      ahead.set(listKey(0, ''), listing);
    }
  });
  port1.close();
  runEnded.abort();
  if (poll) {
    clearInterval(poll);
    pump();
  }
  deps.pool.release(slot, done.kind === 'done');

  let outcome: WasiOutcome;
  let exitCode: number | null = null;
  let trapMessage: string | undefined;
  const changed: string[] = [];
  const refused: { path: string; reason: string }[] = [];
  let timings: WasiRunResult['timings'];
  let memoryReused = false;
  let hostFault: WasiRunResult['hostFault'];
  if (done.kind === 'done') {
    const { m } = done;
    exitCode = m.exitCode;
    hostFault = m.hostFault;
    timings = m.timings;
    memoryReused = m.memoryReused;
    // Heuristic: a failed run whose memory ended within 1 MiB of the cap ran out of memory.
    const nearCap = m.memBytes + (1 << 20) + 65536 > deps.maxPages * 65536;
    // Nothing ran: the file the module's data segments are read from is no longer the one that was checked.
    if (m.error?.reason === 'module_changed')
      throw new ShadowboxError(ErrorCodes.BundleVerificationFailed, 'file_mismatch', m.error.message);
    if (m.error?.reason === 'output_limit') outcome = 'output_limit';
    else if (m.error) outcome = nearCap ? 'memory_limit' : 'trap';
    else outcome = nearCap && exitCode !== 0 ? 'memory_limit' : 'exited';
    trapMessage = m.error?.message;
    if (m.changes.length > 0) {
      const applied = await applyChanges(views, m.changes);
      changed.push(...applied.changed);
      refused.push(...applied.refused);
    }
  } else if (done.kind === 'crash') {
    outcome = 'trap';
    trapMessage = done.message;
  } else outcome = done.kind;

  // Read after the run ended in any way: what a stopped guest wrote before is kept.
  const stdout = capStream(outputBytes(stdoutBuf), req.limits.stdoutBytes);
  const stderr = capStream(outputBytes(stderrBuf), req.limits.stderrBytes);
  // A worker that said done writes no more: its buffers can serve the next run. (One stopped may still be writing.)
  if (done.kind === 'done') {
    keepOutputBuffer(req.limits.stdoutBytes, stdoutBuf);
    keepOutputBuffer(req.limits.stderrBytes, stderrBuf);
  }
  return {
    exitCode,
    outcome,
    trapMessage,
    changed,
    refusedWrites: refused.length > 0 ? refused : undefined,
    runner: 'inprocess',
    timings,
    ...(memoryReused ? { memoryReused } : {}),
    ...(hostFault ? { hostFault } : {}),
    stdout: stdout.bytes,
    stderr: stderr.bytes,
    stdoutTruncated: stdout.truncated,
    stderrTruncated: stderr.truncated,
    durationMs: performance.now() - started,
  };
}

/**
 * Output buffers kept for the next run with the same cap. Each stream's buffer is as large as its cap (8 MiB for
 * python), and two new ones per call cost ~0.2 ms in the median with spikes of ~10 ms (glibc handing back a freed
 * heap chunk zeroes all of it; measured with the library's warm call). A buffer is kept only when its run wrote at
 * most SPARE_MAX_USED bytes, so a kept buffer holds at most that much resident memory, and never more than
 * SPARE_BUFFERS of them. Nothing of an earlier run can be read from one: the worker only writes, and the host
 * reads up to the count it publishes, set to 0 when the buffer is handed out again.
 */
const spareBuffers: { cap: number; buf: SharedArrayBuffer }[] = [];
const SPARE_BUFFERS = 4;
const SPARE_MAX_USED = 64 * 1024;

function takeOutputBuffer(cap: number): SharedArrayBuffer {
  const i = spareBuffers.findIndex((s) => s.cap === cap);
  if (i < 0) return outputBuffer(cap);
  const { buf } = spareBuffers.splice(i, 1)[0];
  Atomics.store(new Int32Array(buf, 0, 1), 0, 0);
  return buf;
}

/** How many output buffers are kept for the next runs (for tests). */
export function spareOutputBuffers(): number {
  return spareBuffers.length;
}

function keepOutputBuffer(cap: number, buf: SharedArrayBuffer): void {
  if (spareBuffers.length >= SPARE_BUFFERS || Atomics.load(new Int32Array(buf, 0, 1), 0) > SPARE_MAX_USED) return;
  spareBuffers.push({ cap, buf });
}

function capStream(all: Uint8Array, cap: number): { bytes: Uint8Array; truncated: boolean } {
  if (all.byteLength < cap) return { bytes: all, truncated: false };
  return { bytes: Buffer.concat([all.subarray(0, cap), Buffer.from(TRUNCATION_MARKER)]), truncated: true };
}

/** The view path of a mount-relative path. */
function inView(m: ViewMount, rel: string): string {
  const prefix = (m.prefix ?? '').replace(/^\/+|\/+$/g, '');
  return prefix && rel ? `${prefix}/${rel}` : prefix || rel;
}

/** Serves one synchronous call from the worker, then wakes it. Failures become `{ ok: false }`. */
async function answer(
  c: BridgeCall,
  port: MessagePort,
  ctl: Int32Array,
  views: ViewMount[],
  fetch: FetchBridge | null,
  signal: AbortSignal,
  ahead: Map<string, Promise<ListedEntry[]>>,
): Promise<void> {
  let reply: BridgeReply;
  try {
    const m = views[c.args.mount ?? -1];
    const key = c.op === 'readdir' ? listKey(c.args.mount ?? -1, c.args.path ?? '') : '';
    const listed = ahead.get(key);
    ahead.delete(key);
    if (c.op === 'fetch') {
      reply = {
        ok: true,
        data: fetch ? await fetch(c.args.request ?? new Uint8Array(0), c.args.cap ?? 0, signal) : new Uint8Array(0),
      };
    } else if (!m) reply = { ok: false };
    else if (c.op === 'readFile') reply = { ok: true, data: await m.view.readFile(inView(m, c.args.path ?? '')) };
    else reply = { ok: true, entries: await (listed ?? listDir(m.view, inView(m, c.args.path ?? ''))) };
  } catch (e) {
    reply = { ok: false, reason: isShadowboxError(e) ? e.reason : 'failed' };
  }
  port.postMessage(reply);
  Atomics.store(ctl, CTL_REPLY, 1);
  Atomics.notify(ctl, CTL_REPLY);
}

const listKey = (mount: number, path: string) => `${mount}\0${path}`;

/** Lists a directory of the view; symlinks are resolved by the view (refused when they leave it) and shown as their target. */
async function listDir(view: WorkspaceView, path: string): Promise<ListedEntry[]> {
  const entries = await view.readdir(path);
  const out = await Promise.all(
    entries.map(async (e): Promise<ListedEntry | null> => {
      const p = path ? `${path}/${e.name}` : e.name;
      try {
        const st = await view.stat(e.type === 'symlink' ? await view.resolve(p, 'read') : p);
        if (!st || (st.type !== 'file' && st.type !== 'dir')) return null;
        return { name: e.name, type: st.type, size: st.size, mode: st.mode, mtimeMs: st.mtimeMs };
      } catch {
        return null;
      }
    }),
  );
  return out.filter((e): e is ListedEntry => e !== null);
}

/** Applies the worker's changes to 'rw' views (removals, then folders, then files); lists the rest as refused. */
async function applyChanges(
  views: ViewMount[],
  changes: Change[],
): Promise<{ changed: string[]; refused: { path: string; reason: string }[] }> {
  const changed: string[] = [];
  const refused: { path: string; reason: string }[] = [];
  const live: Change[] = [];
  for (const c of changes) {
    const m = views[c.mount];
    if (!m) continue;
    if (m.access === 'ro') {
      if (c.op !== 'mkdir') refused.push({ path: inView(m, c.path), reason: 'read_only_mount' });
    } else if (c.op === 'symlink') refused.push({ path: inView(m, c.path), reason: 'symlink_not_applied' });
    else live.push(c);
  }
  const attempt = async (c: Change, fn: (v: WorkspaceView, p: string) => Promise<void>, record: boolean) => {
    const m = views[c.mount];
    const p = inView(m, c.path);
    try {
      await fn(m.view, p);
      if (record) changed.push(p);
    } catch (e) {
      refused.push({ path: p, reason: isShadowboxError(e) ? e.reason : 'write_failed' });
    }
  };
  for (const c of live) if (c.op === 'remove') await attempt(c, (v, p) => v.remove(p), true);
  for (const c of live) if (c.op === 'mkdir') await attempt(c, (v, p) => v.mkdir(p), false);
  for (const c of live) {
    if (c.op === 'write')
      await attempt(c, (v, p) => v.writeFile(p, c.data, c.mode !== undefined ? { mode: c.mode } : undefined), true);
  }
  return { changed, refused };
}
