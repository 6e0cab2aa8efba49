// Starts a real shadowbox daemon process on a temp state dir for benchmarks.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DAEMON_MALLOC_TUNABLES, daemonStartEnv } from '../../clients/editor/dist/index.js';

// BENCH_SHADOWBOX_BIN runs another build (e.g. main's) under the same benchmark, for before/after figures.
export const bin =
  process.env.BENCH_SHADOWBOX_BIN ?? new URL('../../daemon/bin/shadowbox.js', import.meta.url).pathname;
/** The native launcher beside that bin (scripts/build-launcher.mjs), or null when none was built (no C compiler). */
const launcherFile = path.join(path.dirname(bin), 'shadowbox');
export const launcher = existsSync(launcherFile) ? launcherFile : null;
/** A PATH with no `node` on it: a launcher row that handed over to Node would fail there, not pass as native. */
export const NO_NODE_PATH = '/nonexistent';

/**
 * The auto-start's malloc tunables with glibc's huge pages (`hugetlb=1`) the other way — added, as the auto-start sets
 * none since run 42, or left out where a build sets them — for the rows that show what that one tunable gives
 * (python's first call) and takes (idle memory). `label` names the alternative in those rows.
 */
const HUGETLB = 'glibc.malloc.hugetlb=1';
const autoStart = DAEMON_MALLOC_TUNABLES.split(':');
export const HUGETLB_ALTERNATIVE = autoStart.includes(HUGETLB)
  ? { tunables: autoStart.filter((t) => t !== HUGETLB).join(':'), label: 'the same without hugetlb=1' }
  : { tunables: [...autoStart, HUGETLB].join(':'), label: 'the same with hugetlb=1' };

/**
 * `env` as the clients of the build whose bin is `binPath` start its daemon (that build's clients/editor/dist/
 * daemon-env.js, next to its bin; this build's when it has none). A build-vs-build row then measures each build as its
 * users start it: a change to the start environment (glibc's tunables) shows in it, as a change to the code does.
 */
export async function startEnvOf(binPath, env) {
  const file = path.join(path.dirname(binPath), '..', '..', 'clients', 'editor', 'dist', 'daemon-env.js');
  if (binPath === bin || !existsSync(file)) return daemonStartEnv(env);
  return (await import(pathToFileURL(file).href)).daemonStartEnv(env);
}

/**
 * `execArgv`: Node flags for the daemon process (e.g. ['--import', monitor]). BENCH_DAEMON_NODE_FLAGS adds flags to
 * every daemon a bench starts (space-separated; e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it).
 * `binPath`: another build's bin, for a bench that runs two builds side by side.
 */
export async function startDaemon(extraEnv = {}, args = ['--ws-port', '0'], execArgv = [], binPath = bin) {
  execArgv = [...execArgv, ...(process.env.BENCH_DAEMON_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean)];
  // extraEnv.SHADOWBOX_STATE_DIR: a kept state dir (its socket inside it); otherwise a fresh one.
  const stateDir = extraEnv.SHADOWBOX_STATE_DIR ?? mkdtempSync(path.join(os.tmpdir(), 'sbxb-'));
  const env = {
    ...process.env,
    SHADOWBOX_STATE_DIR: stateDir,
    SHADOWBOX_SOCKET: path.join(stateDir, 'daemon.sock'),
    ...extraEnv,
  };
  const t0 = performance.now();
  const child = spawn(process.execPath, [...execArgv, binPath, 'daemon', ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const ready = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d;
      const m = /shadowbox daemon ready: socket ([^,\s]+)(?:, web (\S+))?/.exec(err);
      if (m) resolve({ socketPath: m[1], webUrl: m[2] ?? null });
    });
    child.once('exit', (c) => reject(new Error(`daemon exited ${c}: ${err}`)));
  });
  const readyMs = performance.now() - t0;
  const tokenFile = path.join(stateDir, 'ws.token');
  const token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : null;
  return {
    ...ready,
    token,
    stateDir,
    env,
    pid: child.pid,
    child,
    readyMs,
    rss: () => Number(readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
