import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import type { WorkspaceView } from '../shadow/view.js';
import { decodeFetchRequest, encodeFetchError, encodeFetchResponse } from './fetch-codec.js';
import type { PythonBundleFiles, PythonNetFetch, PythonRunContext, PythonRunInput, PythonRunResult } from './types.js';
import { limitMemoryPages } from './wasm-memory.js';
import { type JobFile, WorkerPool } from './worker-pool.js';

/** Limits for one run; the tool input may lower the timeout, never raise it past maxTimeoutMs. */
export interface PythonLimits {
  timeoutMs: number;
  maxTimeoutMs: number;
  memoryMb: number;
  maxOutputBytes: number;
  /** Workspace snapshot caps: the guest sees at most this many files / bytes. */
  maxWorkspaceFiles: number;
  maxWorkspaceBytes: number;
}

/** Defaults: 30 s (max 120 s), 1 GiB memory, 8 MiB of output, 20 000 files / 256 MiB visible. */
export const DEFAULT_PYTHON_LIMITS: PythonLimits = {
  timeoutMs: 30_000,
  maxTimeoutMs: 120_000,
  memoryMb: 1024,
  maxOutputBytes: 8 * 1024 * 1024,
  maxWorkspaceFiles: 20_000,
  maxWorkspaceBytes: 256 * 1024 * 1024,
};

/** Folders never copied into the guest's view of the workspace. */
const SKIP_DIRS = new Set(['.git', 'node_modules', '.venv', '__pycache__']);

/** Node's WebAssembly global (the daemon's TS lib has no DOM types); a compiled module is opaque here. */
const wasmApi = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<object> } }).WebAssembly;

interface Prepared {
  key: string;
  module: object;
  stdlib: JobFile[];
}

async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, base)));
    else if (e.isFile()) out.push(relative(base, p).split('\\').join('/'));
  }
  return out;
}

/** Reads the stdlib once into SharedArrayBuffers (posted to workers without copying). */
async function loadStdlib(filesDir: string): Promise<JobFile[]> {
  const files: JobFile[] = [];
  for (const rel of (await listFiles(filesDir)).filter((p) => p.startsWith('lib/'))) {
    const bytes = await readFile(join(filesDir, rel));
    const sab = new SharedArrayBuffer(bytes.byteLength);
    new Uint8Array(sab).set(bytes);
    files.push({ path: rel, data: sab });
  }
  return files;
}

/** Copies the readable part of the workspace (through the shadow view) for the guest. */
async function snapshotWorkspace(view: WorkspaceView, limits: PythonLimits): Promise<{ files: JobFile[]; dirs: string[] }> {
  const files: JobFile[] = [];
  const dirs: string[] = [];
  let bytes = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const e of await view.readdir(dir)) {
      if (files.length >= limits.maxWorkspaceFiles || bytes >= limits.maxWorkspaceBytes) return;
      const p = dir ? `${dir}/${e.name}` : e.name;
      let type = e.type;
      if (type === 'symlink') {
        // The view refuses links that lead outside the workspace; those stay invisible.
        const st = await view.stat(p).catch(() => null);
        if (!st) continue;
        type = st.type;
      }
      if (type === 'dir') {
        if (SKIP_DIRS.has(e.name)) continue;
        dirs.push(p);
        await walk(p);
      } else if (type === 'file') {
        const data = await view.readFile(p).catch((err: unknown) => {
          if (isShadowboxError(err)) return null;
          throw err;
        });
        if (!data) continue;
        bytes += data.byteLength;
        files.push({ path: p, data });
      }
    }
  };
  await walk('');
  return { files, dirs };
}

/** Runs CPython (the pre-initialized python.wasm) in a fresh in-memory sandbox per call. */
export class PythonSandbox {
  private prepared: Promise<Prepared> | null = null;
  private readonly pool = new WorkerPool(1);

  constructor(
    private readonly loadBundle: () => Promise<PythonBundleFiles>,
    private readonly limits: PythonLimits,
    private readonly netFetch: PythonNetFetch | undefined,
  ) {}

  /** Compiles the module and loads the stdlib once; spawns the first worker. */
  warm(): Promise<Prepared> {
    this.pool.fill();
    this.prepared ??= (async () => {
      const b = await this.loadBundle();
      const maxPages = Math.floor((this.limits.memoryMb * 1024 * 1024) / 65536);
      const module = await wasmApi.compile(limitMemoryPages(b.moduleBytes, maxPages));
      return { key: b.moduleSha256, module, stdlib: await loadStdlib(b.filesDir) };
    })();
    this.prepared.catch(() => {
      this.prepared = null;
    });
    return this.prepared;
  }

  async run(input: PythonRunInput, ctx: PythonRunContext): Promise<PythonRunResult> {
    const t0 = performance.now();
    const prepared = await this.warm();
    const argv = ['python3', ...pythonArgv(input)];
    const ws = await snapshotWorkspace(ctx.view, this.limits);
    const tSnap = performance.now();
    const stdin = typeof input.stdin === 'string' ? Buffer.from(input.stdin) : (input.stdin ?? new Uint8Array());
    const timeoutMs = Math.min(input.timeoutMs ?? this.limits.timeoutMs, this.limits.maxTimeoutMs);
    const env = { ...(input.env ?? {}), PWD: '/workspace', HOME: '/tmp', PYTHONHOME: '/usr/local', LANG: 'C.UTF-8' };
    const outcome = await this.pool.run(
      {
        module: prepared.module, argv, env, stdin, stdlib: prepared.stdlib,
        workspace: ws.files, workspaceDirs: ws.dirs,
        maxOutputBytes: this.limits.maxOutputBytes, maxFetchBytes: 32 * 1024 * 1024 + 65536,
      },
      { timeoutMs, signal: ctx.signal, fetch: (req) => this.fetch(req, ctx) },
    );
    const changed: string[] = [];
    for (const c of outcome.changes) {
      if (c.data) await ctx.view.writeFile(c.path, c.data);
      else await ctx.view.remove(c.path);
      changed.push(c.path);
    }
    return {
      exitCode: outcome.exitCode,
      stdout: outcome.stdout.toString('utf8'),
      stderr: outcome.stderr.toString('utf8'),
      durationMs: Math.round((performance.now() - t0) * 10) / 10,
      timedOut: outcome.timedOut,
      cancelled: outcome.cancelled,
      error: outcome.error,
      changed,
      ...(outcome.timings ? { timings: { ...outcome.timings, snapshotMs: Math.round((tSnap - t0) * 10) / 10 } } : {}),
    };
  }

  private async fetch(raw: Uint8Array, ctx: PythonRunContext): Promise<Uint8Array> {
    try {
      const req = decodeFetchRequest(raw);
      if (!this.netFetch) {
        throw new ShadowboxError(ErrorCodes.NetFetchRefused, 'net_fetch_not_allowed', 'netFetch is not enabled for the python tool');
      }
      return encodeFetchResponse(await this.netFetch(req, { sessionId: ctx.sessionId }));
    } catch (e) {
      return encodeFetchError(e);
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** The python3 argv (after the program name) for an input: -c CODE, -m MOD or FILE, then args. */
export function pythonArgv(input: PythonRunInput): string[] {
  const args = input.args ?? [];
  const given = [input.code !== undefined, input.file !== undefined, input.module !== undefined].filter(Boolean).length;
  if (given > 1) throw new ShadowboxError(ErrorCodes.ToolInputInvalid, 'ambiguous_program', 'give only one of code, file or module');
  if (input.code !== undefined) return ['-c', input.code, ...args];
  if (input.module !== undefined) return ['-m', input.module, ...args];
  if (input.file !== undefined) {
    const f = input.file.replace(/^\.\//, '');
    if (f.startsWith('/') || f.split('/').includes('..')) {
      throw new ShadowboxError(ErrorCodes.PathOutsideWorkspace, 'path_escape', `file must be a path inside the workspace: ${input.file}`, { path: input.file });
    }
    return [`/workspace/${f}`, ...args];
  }
  return ['-', ...args];
}
