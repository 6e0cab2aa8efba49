// The host sandbox end to end: a real daemon — as the user running the tests (root in CI) and as `nobody`
// (an unprivileged user: user namespaces, overlay and limits as most people have them) — with workspaces
// that user owns. A suite calls `sandboxUsers()` and runs every test once per user.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { connectSocket, type ShadowboxClient } from '@shadowbox/client';
import { DaemonStatus, type SessionEvent } from '@shadowbox/protocol';
import { shadowboxBin, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

/** The users a sandbox test runs as: this process's, and nobody when this process is root (CI). */
export function sandboxUsers(): ('self' | 'nobody')[] {
  return process.getuid?.() === 0 ? ['self', 'nobody'] : ['self'];
}

const NOBODY = { uid: 65534, gid: 65534 };

/** A folder the daemon's user owns (private to it). */
export function ownedDir(as: 'self' | 'nobody', prefix: string): string {
  const d = realpathSync(mkdtempSync(path.join(os.tmpdir(), `${prefix}-`)));
  if (as === 'nobody') chownSync(d, NOBODY.uid, NOBODY.gid);
  return d;
}

/** Gives a tree to the daemon's user (after the test wrote it as root). */
export function chownTree(as: 'self' | 'nobody', dir: string): void {
  if (as !== 'nobody') return;
  chownSync(dir, NOBODY.uid, NOBODY.gid);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) chownTree(as, p);
    else if (!e.isSymbolicLink()) chownSync(p, NOBODY.uid, NOBODY.gid);
  }
}

/** A workspace of `files` (a git repository with one commit unless `git: false`) owned by the daemon's user. */
export function makeProject(
  as: 'self' | 'nobody',
  files: Record<string, string>,
  o: { git?: boolean; modes?: Record<string, number> } = {},
): string {
  // Written (and committed) as this process, then given to the daemon's user: git refuses a repository
  // another user owns.
  const ws = ownedDir('self', 'sbx-ws');
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(ws, p)), { recursive: true });
    writeFileSync(path.join(ws, p), c, { mode: o.modes?.[p] ?? 0o644 });
  }
  if (o.git !== false) {
    const git = (...a: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...a], { cwd: ws, stdio: 'ignore' });
    git('init', '-q', '-b', 'main');
    git('add', '-A');
    git('commit', '-qm', 'initial');
  }
  chownTree(as, ws);
  return ws;
}

/** A daemon running as `as`, with a state dir that user owns; extra env (a model server) as given. */
export async function startSandboxDaemon(as: 'self' | 'nobody', env: NodeJS.ProcessEnv = {}): Promise<TestDaemon> {
  if (as === 'self') return startTestDaemon({ web: false, env });
  const stateDir = ownedDir('nobody', 'sbx-state');
  // setpriv execs the daemon as nobody (no process in between: a signal to the child reaches the daemon).
  return startTestDaemon({
    stateDir,
    web: false,
    env: { HOME: '/nonexistent', ...env },
    wrap: ['setpriv', '--reuid', String(NOBODY.uid), '--regid', String(NOBODY.gid), '--clear-groups', '--'],
  }).then((d) => ({
    ...d,
    cleanup: async () => {
      await d.cleanup();
      await rm(stateDir, { recursive: true, force: true });
    },
  }));
}

/** Whether the daemon can run the host sandbox (else the suite says why and is skipped). */
export async function shellAvailable(d: TestDaemon): Promise<{ ok: boolean; why: string }> {
  const c = await d.connect('probe');
  try {
    const s = (await c.request(DaemonStatus, {})).sandboxes.find((x) => x.name === 'shell');
    return { ok: s?.available === true, why: s?.missing.join('; ') ?? 'no shell sandbox' };
  } finally {
    c.dispose();
  }
}

/** Collects a client's session events (and waits for one). */
export function collect(c: ShadowboxClient) {
  const events: SessionEvent[] = [];
  c.onEvent((e) => events.push(e));
  return {
    events,
    of: <T extends SessionEvent['event']['type']>(type: T) =>
      events.map((e) => e.event).filter((b): b is Extract<SessionEvent['event'], { type: T }> => b.type === type),
  };
}

/** Host processes whose command line holds `marker` (what a sandboxed command left running, if anything). */
export function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const cmd = execFileSync('cat', [`/proc/${pid}/cmdline`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      if (cmd.includes(marker) && Number(pid) !== process.pid) out.push(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

/** Runs `shadowbox` as the daemon's user (the CLI must reach a socket only that user may open). */
export function runCliAs(
  as: 'self' | 'nobody',
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { cwd: string; timeoutMs?: number; onStdout?: (s: string) => void } = { cwd: '/' },
): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; kill: (sig: NodeJS.Signals) => void } {
  const wrap = as === 'nobody' ? ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups', '--'] : [];
  const [file, ...rest] = [...wrap, process.execPath, shadowboxBin, ...args];
  const child = spawn(file, rest, {
    env: { ...env, ...(as === 'nobody' ? { HOME: '/nonexistent' } : {}) },
    cwd: opts.cwd,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    opts.onStdout?.(stdout);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end();
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`shadowbox ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { done, kill: (sig) => child.kill(sig) };
}

/** True when `p` is owned by uid (sanity for nobody's workspaces). */
export function ownedBy(p: string, uid: number): boolean {
  return statSync(p).uid === uid;
}

export { connectSocket };
