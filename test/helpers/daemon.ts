import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectSocket, type ShadowboxClient } from '@shadowbox/client';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const shadowboxBin = path.join(repoRoot, 'daemon/bin/shadowbox.js');
/** The native launcher, built by `npm run build` when a C compiler is present (scripts/build-launcher.mjs). */
export const launcherBin = path.join(repoRoot, 'daemon/bin/shadowbox');
/** A PATH with no `node` on it: the launcher cannot hand over there (the hand-over fails, 127). */
export const NO_NODE_PATH = '/nonexistent-no-node-here';

/** A real daemon process on a temporary state dir (short path: Unix socket paths are limited to 107 bytes). */
export interface TestDaemon {
  stateDir: string;
  socketPath: string;
  webUrl: string | null;
  token: string;
  pid: number;
  child: ChildProcess;
  env: NodeJS.ProcessEnv;
  stderr: () => string;
  connect(name?: string, opts?: { permissions?: boolean }): Promise<ShadowboxClient>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL (crash) and wait. */
  kill(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function makeTempDir(prefix = 'sbx'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
}

/** Starts `shadowbox daemon` with a temp state dir (or the given one) and waits until it is ready. */
export async function startTestDaemon(
  opts: {
    stateDir?: string;
    env?: NodeJS.ProcessEnv;
    args?: string[];
    web?: boolean;
    /** A command that runs the daemon (e.g. `setpriv --reuid …` to run it as another user); it must exec, not fork. */
    wrap?: string[];
    /** Run the daemon under `ulimit -n N` (a small file-descriptor limit). */
    maxOpenFiles?: number;
  } = {},
): Promise<TestDaemon> {
  const stateDir = opts.stateDir ?? (await makeTempDir());
  const socketPath = path.join(stateDir, 'daemon.sock');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    SHADOWBOX_STATE_DIR: stateDir,
    SHADOWBOX_SOCKET: socketPath,
    ...opts.env,
  };
  delete env.NODE_OPTIONS;
  const args = [
    shadowboxBin,
    'daemon',
    ...(opts.web === false ? ['--no-web'] : ['--ws-port', '0']),
    ...(opts.args ?? []),
  ];
  // `wrap` execs the daemon (as another user); `ulimit -n` execs it too: the child is the daemon either way.
  const node = [...(opts.wrap ?? []), process.execPath, ...args];
  const [file, ...rest] =
    opts.maxOpenFiles === undefined ? node : ['sh', '-c', `ulimit -n ${opts.maxOpenFiles} && exec "$0" "$@"`, ...node];
  const child = spawn(file, rest, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not become ready:\n${err}`)), 20_000);
    const onData = () => {
      const m = /shadowbox daemon ready: socket ([^,\s]+)(?:, web (\S+))?/.exec(err);
      if (m) {
        clearTimeout(timer);
        child.stderr.off('data', onData);
        resolve(m[2] ?? '');
      }
    };
    child.stderr.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited (${code}) before ready:\n${err}`));
    });
  });
  const token = (await readFile(path.join(stateDir, 'ws.token'), 'utf8')).trim();
  const clients: ShadowboxClient[] = [];
  const d: TestDaemon = {
    stateDir,
    socketPath,
    webUrl: ready || null,
    token,
    pid: child.pid!,
    child,
    env,
    stderr: () => err,
    async connect(name = 'test', o = {}) {
      const c = await connectSocket(socketPath);
      clients.push(c);
      await c.initialize({ name, kind: 'test' }, { permissions: o.permissions ?? false });
      return c;
    },
    async stop() {
      for (const c of clients) c.dispose();
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      for (const c of clients) c.dispose();
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    async cleanup() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      if (!opts.stateDir) await rm(stateDir, { recursive: true, force: true });
    },
  };
  return d;
}

/** Runs the CLI binary to completion. */
export function runCli(
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [shadowboxBin, ...args], {
      env,
      cwd: opts.cwd ?? repoRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`shadowbox ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/**
 * Polls `cond` every 10 ms until it holds or `ms` pass; returns its last value. The default cap is close to
 * the test timeout: a condition is waited for, and only one that never holds ends the wait (CI is loaded).
 */
export async function until(cond: () => boolean, ms = 25_000): Promise<boolean> {
  const t = Date.now();
  while (!cond() && Date.now() - t < ms) await new Promise((r) => setTimeout(r, 10));
  return cond();
}
