import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { isShadowboxError } from '../errors.js';
import type { WorkspaceView } from '../shadow/index.js';
import type { FetchBridge } from '../net/index.js';
import type { WasiOutcome, WasiRunRequest, WasiRunResult } from './types.js';
import type { WorkerPool } from './worker-pool.js';

/** Default cap on file growth per run (/tmp and the guest's copy of /workspace). */
export const DEFAULT_FS_BYTES = 256 * 1024 * 1024;

/** Marker appended to a stream cut at its limit. */
export const TRUNCATION_MARKER = '\n[shadowbox: output truncated]\n';

type Change =
  { op: 'write'; path: string; data: Uint8Array } | { op: 'mkdir'; path: string } | { op: 'remove'; path: string };

type WorkerMessage =
  | { type: 'output'; fd: 1 | 2; chunks: Uint8Array[] }
  | {
      type: 'done';
      exitCode: number | null;
      error: { reason: string; message: string } | null;
      memBytes: number;
      changes: Change[];
      timings: { setupMs: number; instantiateMs: number; runMs: number };
    };

interface BridgeCall {
  op: 'readdir' | 'readFile' | 'fetch';
  args: { path?: string; request?: Uint8Array; cap?: number };
}

/** Everything the in-process runner needs besides the request. */
export interface InprocessDeps {
  pool: WorkerPool;
  module: object;
  maxPages: number;
  fetch: FetchBridge | null;
}

/** Runs one request in a worker from the pool; always resolves with a typed result. */
export async function runInprocess(req: WasiRunRequest, deps: InprocessDeps): Promise<WasiRunResult> {
  const started = performance.now();
  const readOnly =
    req.mounts.readOnly?.map((m) => ({
      at: m.at,
      files: [...m.files].map(([path, data]) => ({ path, data: typeof data === 'function' ? data() : data })),
    })) ?? [];
  const view = req.mounts.workspace;
  const ctlBuf = new SharedArrayBuffer(4);
  const ctl = new Int32Array(ctlBuf);
  const { port1, port2 } = new MessageChannel();
  const slot = deps.pool.take();
  const { worker } = slot;
  const out: Record<1 | 2, Uint8Array[]> = { 1: [], 2: [] };
  const runEnded = new AbortController();

  const done = await new Promise<
    | { kind: 'done'; m: Extract<WorkerMessage, { type: 'done' }> }
    | { kind: 'timeout' | 'cancelled' | 'crash'; message?: string }
  >((resolve) => {
    let settled = false;
    const settle = (v: Parameters<typeof resolve>[0]): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      resolve(v);
    };
    const timer = setTimeout(() => settle({ kind: 'timeout' }), req.limits.wallMs);
    const onAbort = (): void => settle({ kind: 'cancelled' });
    req.signal?.addEventListener('abort', onAbort, { once: true });
    if (req.signal?.aborted) return settle({ kind: 'cancelled' });
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'output') out[m.fd].push(...m.chunks);
      else settle({ kind: 'done', m });
    });
    worker.on('exit', () => settle({ kind: 'crash', message: 'the sandbox worker stopped' }));
    worker.on('error', (e: unknown) => settle({ kind: 'crash', message: e instanceof Error ? e.message : String(e) }));
    port1.on('message', (c: BridgeCall) => void answer(c, port1, ctl, view, deps.fetch, runEnded.signal));
    worker.postMessage(
      {
        module: deps.module,
        argv: req.argv,
        env: req.env ?? {},
        stdin: req.stdin ?? new Uint8Array(0),
        readOnly,
        workspace: view !== undefined,
        cwdWorkspace: view !== undefined && (req.cwd ?? '/workspace') === '/workspace',
        tmp: req.mounts.tmp ?? false,
        netFetch: deps.fetch !== null,
        stdoutBytes: req.limits.stdoutBytes,
        stderrBytes: req.limits.stderrBytes,
        fsBytes: req.limits.fsBytes ?? DEFAULT_FS_BYTES,
        ctl: ctlBuf,
        port: port2,
      },
      [port2],
    );
  });
  port1.close();
  runEnded.abort();
  deps.pool.release(slot, done.kind === 'done');

  let outcome: WasiOutcome;
  let exitCode: number | null = null;
  let trapMessage: string | undefined;
  const changed: string[] = [];
  let refusedWrites: { path: string; reason: string }[] | undefined;
  let timings: WasiRunResult['timings'];
  if (done.kind === 'done') {
    const { m } = done;
    exitCode = m.exitCode;
    timings = m.timings;
    // Heuristic: a failed run whose memory ended within 1 MiB of the cap ran out of memory.
    const nearCap = m.memBytes + (1 << 20) + 65536 > deps.maxPages * 65536;
    if (m.error?.reason === 'output_limit') outcome = 'output_limit';
    else if (m.error) outcome = nearCap ? 'memory_limit' : 'trap';
    else outcome = nearCap && exitCode !== 0 ? 'memory_limit' : 'exited';
    trapMessage = m.error?.message;
    if (view && m.changes.length > 0 && req.mounts.workspaceAccess === 'ro') {
      refusedWrites = m.changes
        .filter((c) => c.op !== 'mkdir')
        .map((c) => ({ path: c.path, reason: 'read_only_mount' }));
    } else if (view && m.changes.length > 0) {
      const applied = await applyChanges(view, m.changes);
      changed.push(...applied.changed);
      if (applied.refused.length > 0) refusedWrites = applied.refused;
    }
  } else if (done.kind === 'crash') {
    outcome = 'trap';
    trapMessage = done.message;
  } else outcome = done.kind;

  const stdout = capStream(out[1], req.limits.stdoutBytes);
  const stderr = capStream(out[2], req.limits.stderrBytes);
  return {
    exitCode,
    outcome,
    trapMessage,
    changed,
    refusedWrites,
    runner: 'inprocess',
    timings,
    stdout: stdout.bytes,
    stderr: stderr.bytes,
    stdoutTruncated: stdout.truncated,
    stderrTruncated: stderr.truncated,
    durationMs: performance.now() - started,
  };
}

function capStream(chunks: Uint8Array[], cap: number): { bytes: Uint8Array; truncated: boolean } {
  const all = Buffer.concat(chunks);
  if (all.byteLength < cap) return { bytes: all, truncated: false };
  return { bytes: Buffer.concat([all.subarray(0, cap), Buffer.from(TRUNCATION_MARKER)]), truncated: true };
}

/** Serves one synchronous call from the worker, then wakes it. Failures become `{ ok: false }`. */
async function answer(
  c: BridgeCall,
  port: MessagePort,
  ctl: Int32Array,
  view: WorkspaceView | undefined,
  fetch: FetchBridge | null,
  signal: AbortSignal,
): Promise<void> {
  let reply: unknown;
  try {
    if (c.op === 'fetch') {
      reply = {
        ok: true,
        data: fetch ? await fetch(c.args.request ?? new Uint8Array(0), c.args.cap ?? 0, signal) : new Uint8Array(0),
      };
    } else if (!view) reply = { ok: false };
    else if (c.op === 'readFile') reply = { ok: true, data: await view.readFile(c.args.path ?? '') };
    else reply = { ok: true, entries: await listDir(view, c.args.path ?? '') };
  } catch (e) {
    reply = { ok: false, reason: isShadowboxError(e) ? e.reason : 'failed' };
  }
  port.postMessage(reply);
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
}

/** Lists a directory of the view; symlinks are resolved by the view (refused when they leave it) and shown as their target. */
async function listDir(
  view: WorkspaceView,
  path: string,
): Promise<{ name: string; type: 'file' | 'dir'; size: number }[]> {
  const entries = await view.readdir(path);
  const out = await Promise.all(
    entries.map(async (e) => {
      const p = path ? `${path}/${e.name}` : e.name;
      try {
        const st = await view.stat(e.type === 'symlink' ? await view.resolve(p, 'read') : p);
        if (!st || (st.type !== 'file' && st.type !== 'dir')) return null;
        return { name: e.name, type: st.type, size: st.size };
      } catch {
        return null;
      }
    }),
  );
  return out.filter((e): e is { name: string; type: 'file' | 'dir'; size: number } => e !== null);
}

/** Applies the worker's reported changes to the view: removals, then directories, then files. */
async function applyChanges(
  view: WorkspaceView,
  changes: Change[],
): Promise<{ changed: string[]; refused: { path: string; reason: string }[] }> {
  const changed: string[] = [];
  const refused: { path: string; reason: string }[] = [];
  const attempt = async (c: Change, fn: () => Promise<void>, record: boolean): Promise<void> => {
    try {
      await fn();
      if (record) changed.push(c.path);
    } catch (e) {
      refused.push({ path: c.path, reason: isShadowboxError(e) ? e.reason : 'write_failed' });
    }
  };
  for (const c of changes) if (c.op === 'remove') await attempt(c, () => view.remove(c.path), true);
  for (const c of changes) if (c.op === 'mkdir') await attempt(c, () => view.mkdir(c.path), false);
  for (const c of changes) if (c.op === 'write') await attempt(c, () => view.writeFile(c.path, c.data), true);
  return { changed, refused };
}
