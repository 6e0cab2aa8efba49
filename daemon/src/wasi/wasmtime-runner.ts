import { accessSync, constants } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import type { WorkspaceView } from '../shadow/index.js';
import { TRUNCATION_MARKER } from './inprocess-runner.js';
import { readWholeHostFile } from './host/host-file.js';
import { limitMemoryPages } from './memory-limit.js';
import { rewriting } from './rewrite-error.js';
import { pagesFor, sha256Hex } from './module-cache.js';
import type { WasiRunRequest, WasiRunResult } from './types.js';
import { mkdirAll } from '../state/index.js';

// The wasmtime CLI cannot see the shadow layer and its --dir is always read-write, so the guest
// never gets a real directory: the view is copied into a private temp folder (capped), the run
// works on that copy, and afterwards the differences are applied to the view. Read-only mounts
// and /tmp are temp folders too; everything is deleted after the run.

/** Caps on the workspace copy made for a wasmtime run. */
export const WASMTIME_COPY_LIMITS = { maxFiles: 20_000, maxBytes: 256 * 1024 * 1024 };
const SKIP = new Set(['.git', 'node_modules']);

/** Finds a wasmtime binary: SHADOWBOX_WASMTIME, then PATH; null when absent. */
export function findWasmtime(env: NodeJS.ProcessEnv = process.env): string | null {
  const candidates = [
    env.SHADOWBOX_WASMTIME,
    ...(env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, 'wasmtime')),
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // not here
    }
  }
  return null;
}

/** The wasmtime command line for a run (pure; exported for tests). */
export function wasmtimeArgs(o: {
  modulePath: string;
  dirs: [string, string][];
  env: Record<string, string>;
  memoryBytes: number;
  wallMs: number;
  argv: string[];
}): string[] {
  const args = ['run', '-W', `max-memory-size=${o.memoryBytes}`, '-W', `timeout=${o.wallMs}ms`];
  for (const [host, guest] of o.dirs) args.push('--dir', `${host}::${guest}`);
  for (const [k, v] of Object.entries(o.env)) args.push('--env', `${k}=${v}`);
  // argv[0] is the program name the guest sees.
  args.push('--argv0', o.argv[0] ?? 'main', o.modulePath, ...o.argv.slice(1));
  return args;
}

async function copyView(view: WorkspaceView, into: string): Promise<Map<string, Buffer>> {
  const snapshot = new Map<string, Buffer>();
  let bytes = 0;
  const walk = async (rel: string): Promise<void> => {
    for (const e of await view.readdir(rel)) {
      if (SKIP.has(e.name)) continue;
      const p = rel ? `${rel}/${e.name}` : e.name;
      let type = e.type;
      try {
        if (type === 'symlink') type = (await view.stat(await view.resolve(p, 'read')))?.type ?? 'other';
      } catch {
        continue; // links that leave the workspace are simply absent
      }
      if (type === 'dir') {
        await mkdirAll(join(into, p));
        await walk(p);
      } else if (type === 'file') {
        const data = Buffer.from(await view.readFile(p));
        bytes += data.byteLength;
        if (snapshot.size >= WASMTIME_COPY_LIMITS.maxFiles || bytes > WASMTIME_COPY_LIMITS.maxBytes) {
          throw new ShadowboxError(
            ErrorCodes.WasiLimitExceeded,
            'workspace_too_large',
            'the workspace is too large to copy for the wasmtime runner',
            WASMTIME_COPY_LIMITS,
          );
        }
        await writeFile(join(into, p), data);
        snapshot.set(p, data);
      }
    }
  };
  await walk('');
  return snapshot;
}

async function listFiles(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** Runs a request with the wasmtime CLI. netFetch was refused by the caller before this point. */
export async function runWasmtime(bin: string, req: WasiRunRequest): Promise<WasiRunResult> {
  const started = performance.now();
  const bytes = 'bytes' in req.module ? req.module.bytes : await req.module.load();
  if (!('bytes' in req.module) && sha256Hex(bytes) !== req.module.sha256) {
    throw new ShadowboxError(
      ErrorCodes.WasiFailed,
      'module_hash_mismatch',
      'the loaded module does not match its content hash',
    );
  }
  const capped = rewriting(() => limitMemoryPages(bytes, pagesFor(req.limits.memoryBytes)));
  const work = await mkdtemp(join(tmpdir(), 'shadowbox-wasmtime-'));
  try {
    const modulePath = join(work, 'module.wasm');
    await writeFile(modulePath, capped);
    const dirs: [string, string][] = [];
    let i = 0;
    for (const m of req.mounts.readOnly ?? []) {
      const d = join(work, `ro${i++}`);
      for (const [p, data] of m.files) {
        await mkdirAll(dirname(join(d, p)));
        const bytes = typeof data === 'function' ? data() : data instanceof Uint8Array ? data : readWholeHostFile(data);
        await writeFile(join(d, p), bytes);
      }
      await mkdirAll(d);
      dirs.push([d, m.at]);
    }
    const view = req.mounts.workspace;
    let snapshot: Map<string, Buffer> | null = null;
    const wsDir = join(work, 'workspace');
    if (view) {
      await mkdir(wsDir);
      snapshot = await copyView(view, wsDir);
      dirs.push([wsDir, '/workspace']);
    }
    if (req.mounts.tmp) {
      await mkdir(join(work, 'tmp'));
      dirs.push([join(work, 'tmp'), '/tmp']);
    }
    const args = wasmtimeArgs({
      modulePath,
      dirs,
      env: req.env ?? {},
      memoryBytes: req.limits.memoryBytes,
      wallMs: req.limits.wallMs,
      argv: req.argv,
    });
    // execa (~100 modules) loads on the first call, not with the daemon.
    const { execa } = await import('execa');
    const r = await execa(bin, args, {
      env: {},
      extendEnv: false,
      reject: false,
      encoding: 'buffer',
      stripFinalNewline: false,
      input: Buffer.from(req.stdin ?? new Uint8Array(0)),
      timeout: req.limits.wallMs + 2000,
      cancelSignal: req.signal,
      maxBuffer: { stdout: req.limits.stdoutBytes, stderr: req.limits.stderrBytes },
      cwd: work,
    });
    const stdout = Buffer.from(r.stdout ?? new Uint8Array(0));
    const stderr = Buffer.from(r.stderr ?? new Uint8Array(0));
    const err = stderr.toString('utf8');
    // wasmtime's own verdicts: a trap (its `-W timeout` is the trap `interrupt`) makes it print the error and exit
    // non-zero (134 on Unix). The guest's stderr comes first and is the guest's: a Python program that prints
    // "KeyboardInterrupt" and exits 1 ran to its end (it was called a timeout, its workspace writes dropped).
    const failed = r.exitCode !== 0;
    let outcome: WasiRunResult['outcome'] = 'exited';
    if (r.isCanceled) outcome = 'cancelled';
    else if (r.timedOut || (failed && /wasm trap: interrupt/.test(err))) outcome = 'timeout';
    else if (r.isMaxBuffer) outcome = 'output_limit';
    else if (failed && /wasm trap|wasm backtrace/i.test(err)) outcome = 'trap';
    const changed: string[] = [];
    const refusedWrites: { path: string; reason: string }[] = [];
    if (view && snapshot && (outcome === 'exited' || outcome === 'output_limit')) {
      const after = new Set(await listFiles(wsDir));
      const apply = async (p: string, fn: () => Promise<void>): Promise<void> => {
        if (req.mounts.workspaceAccess === 'ro') return void refusedWrites.push({ path: p, reason: 'read_only_mount' });
        try {
          await fn();
          changed.push(p);
        } catch (e) {
          refusedWrites.push({ path: p, reason: isShadowboxError(e) ? e.reason : 'write_failed' });
        }
      };
      for (const p of snapshot.keys()) if (!after.has(p)) await apply(p, () => view.remove(p));
      for (const p of after) {
        const data = await readFile(join(wsDir, p));
        const before = snapshot.get(p);
        if (!before || !before.equals(data)) await apply(p, () => view.writeFile(p, data));
      }
    }
    const cut = (b: Buffer, cap: number, over: boolean): { bytes: Uint8Array; truncated: boolean } =>
      over || b.byteLength >= cap
        ? { bytes: Buffer.concat([b.subarray(0, cap), Buffer.from(TRUNCATION_MARKER)]), truncated: true }
        : { bytes: b, truncated: false };
    const o = cut(stdout, req.limits.stdoutBytes, r.isMaxBuffer && stdout.byteLength >= req.limits.stdoutBytes);
    const e = cut(stderr, req.limits.stderrBytes, r.isMaxBuffer && stderr.byteLength >= req.limits.stderrBytes);
    return {
      exitCode: outcome === 'exited' || outcome === 'trap' ? (r.exitCode ?? null) : null,
      outcome,
      ...(outcome === 'trap' ? { trapMessage: err.split('\n').find((l) => /trap/i.test(l)) ?? 'trap' } : {}),
      stdout: o.bytes,
      stderr: e.bytes,
      stdoutTruncated: o.truncated,
      stderrTruncated: e.truncated,
      durationMs: performance.now() - started,
      changed,
      ...(refusedWrites.length ? { refusedWrites } : {}),
      runner: 'wasmtime',
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
