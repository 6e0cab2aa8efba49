import { createSpawner, SpawnError, type Spawner } from '../spawner/index.js';
import type { Program } from './probe.js';
import { type RunCgroup } from './limits.js';
import { CappedOutput, type OutputChunk } from './output.js';
import { PROXY_PORT, PROXY_SOCKET } from './system-view.js';

/** One launch: the overlay to mount, what bubblewrap shows, the command, and its limits. */
export interface LaunchSpec {
  command: string;
  /** Overlay lower layers, top first (the real workspace last). */
  lowerDirs: string[];
  /** null: the workspace is mounted read-only (no upper layer). */
  upper: { upper: string; work: string } | null;
  merged: string;
  /** bubblewrap's arguments up to (not including) `--` and the command. */
  bwrap: string[];
  /** prlimit's limit arguments. */
  prlimit: string[];
  programs: Record<Program, string>;
  /** socat's path when the run has network (the proxy bridge inside). */
  socat: string | null;
  cgroup: RunCgroup | null;
  /** The command's time limit, counted from when bubblewrap reports it started (setup is not the command's time). */
  timeoutMs: number;
  /** The sandbox's setup (namespaces, overlay, bubblewrap) must be done within this; default max(timeoutMs, 30 s). */
  setupTimeoutMs?: number;
  maxOutputBytes: number;
  signal: AbortSignal;
  onOutput?: (c: OutputChunk) => void;
}

/** How a launch ended. */
export interface LaunchOutcome {
  /** The command's exit status (128+n when a signal ended it inside); null when it did not start or was killed. */
  exitCode: number | null;
  timedOut: boolean;
  cancelled: boolean;
  /** The sandbox could not be set up (the overlay mount or bubblewrap failed): the command never ran. */
  setupError?: string;
  durationMs: number;
  stdout: string;
  stderr: string;
  combined: string;
  truncated: boolean;
  totalBytes: number;
}

/** The least time a sandbox's setup is given before the run is ended as failed to set up. */
export const SETUP_TIMEOUT_MS = 30_000;

/** Escapes a path for overlayfs's option string (`,` `:` `\` separate options and layers). */
export function overlayPath(p: string): string {
  return p.replace(/[\\,:]/g, (c) => `\\${c}`);
}

/** The overlay's mount options: lower layers top first; `volatile` (the upper dir is read once, after the run). */
export function overlayOptions(lowerDirs: string[], upper: LaunchSpec['upper']): string {
  const lower = `lowerdir=${lowerDirs.map(overlayPath).join(':')}`;
  if (!upper) return `userxattr,${lower}`;
  return `userxattr,volatile,${lower},upperdir=${overlayPath(upper.upper)},workdir=${overlayPath(upper.work)}`;
}

// Runs in the new user and mount namespace (unshare -Urm): mounts the overlay, then becomes prlimit → bwrap.
const LAUNCHER = [
  'mount -t overlay overlay -o "$1" "$2" || { echo "shadowbox: the overlay mount failed" >&2; exit 125; }',
  'shift 2',
  'exec "$@"',
].join('\n');
// Joins the run's cgroups (root only), then becomes setpriv → unshare.
const JOIN_CGROUP = 'for p in $SBX_CGROUP_PROCS; do echo $$ > "$p" || exit 125; done; exec "$@"';
// Inside the sandbox with network: socat serves the proxy's socket on loopback, then the command runs.
const port = PROXY_PORT.toString(16).toUpperCase().padStart(4, '0');
const WITH_PROXY = [
  `"$SBX_SOCAT" TCP-LISTEN:${PROXY_PORT},bind=127.0.0.1,fork,reuseaddr UNIX-CONNECT:${PROXY_SOCKET} 2>/dev/null &`,
  'i=0',
  `while ! grep -q ":${port} 00000000:0000 0A" /proc/net/tcp 2>/dev/null && [ $i -lt 500 ]; do i=$((i+1)); sleep 0.01; done`,
  'unset SBX_SOCAT',
  'exec /bin/sh -c "$1"',
].join('\n');

/** The argv a launch spawns (exported for the bench and tests). */
export function launchArgv(s: LaunchSpec): { file: string; args: string[]; env: Record<string, string> } {
  const inner = s.socat ? ['/bin/sh', '-c', WITH_PROXY, 'sh', s.command] : ['/bin/sh', '-c', s.command];
  const bwrap = [
    s.programs.bwrap,
    ...s.bwrap,
    ...(s.socat ? ['--setenv', 'SBX_SOCAT', s.socat] : []),
    '--json-status-fd',
    '3',
    '--',
    ...inner,
  ];
  const launcher = [
    s.programs.unshare,
    '--user',
    '--map-root-user',
    '--mount',
    '--',
    '/bin/sh',
    '-c',
    LAUNCHER,
    'sh',
    overlayOptions(s.lowerDirs, s.upper),
    s.merged,
    s.programs.prlimit,
    ...s.prlimit,
    '--',
    ...bwrap,
  ];
  // Its parent dying (even kill -9) kills the launch: the parent-death signal survives every exec below. The parent is
  // the spawner process (whose own death the daemon's brings) or, on the direct path, the daemon.
  const deathSig = [s.programs.setpriv, '--pdeathsig', 'KILL', '--', ...launcher];
  if (s.cgroup)
    return {
      file: '/bin/sh',
      args: ['-c', JOIN_CGROUP, 'sh', ...deathSig],
      env: { SBX_CGROUP_PROCS: s.cgroup.procs.join(' '), PATH: '/usr/bin:/bin' },
    };
  return { file: deathSig[0], args: deathSig.slice(1), env: { PATH: '/usr/bin:/bin' } };
}

/**
 * Why: one place starts a sandboxed command and ends it. The process it spawns becomes bubblewrap
 * (every step execs the next), whose child is the sandbox's pid 1 with a parent-death signal, so one
 * SIGKILL — timeout, cancel, daemon stop — ends the whole process tree at once (a pid namespace dies with
 * its init). It is started by `spawner` (the daemon's spawner process: no fork of the daemon) or directly.
 * Its parent dying kills it (setpriv --pdeathsig), and so does the daemon's death: its parent is the daemon, or
 * the spawner, which SIGKILLs its programs and exits when the daemon's channel closes (also on kill -9).
 * The time limit counts from bubblewrap's report that the command started; the setup before it has a limit of its own
 * (`setupTimeoutMs`), past which the run ends as a setup error.
 * Output is drained to the end, kept capped, and passed on live; bubblewrap's status pipe tells a failed setup
 * from the command's exit. The spawner dying mid-run rejects with ToolFailed / `spawner_exited` (the sandbox
 * dies with it), unless the run was being killed anyway (timeout, cancel): then it ends as killed.
 */
export function launch(s: LaunchSpec, spawner?: Spawner): Promise<LaunchOutcome> {
  const started = performance.now();
  const { file, args, env } = launchArgv(s);
  const out = new CappedOutput(s.maxOutputBytes);
  return new Promise((resolve, reject) => {
    let timedOut = false;
    let cancelled = false;
    let setupTimedOut = false;
    let began = false;
    let timer: NodeJS.Timeout | undefined;
    let exitCode: number | null = null;
    let status = '';
    let setupText = '';
    const read = (name: OutputChunk['stream']) => (d: Buffer) => {
      if (!began) setupText += d.toString('utf8');
      out.push(name, d);
      s.onOutput?.({ stream: name, text: d.toString('utf8') });
    };
    // cwd: bubblewrap's --chdir places the command; the launcher's own steps use absolute paths only.
    const program = (spawner ?? createSpawner({ mode: 'direct' })).spawn(file, args, {
      cwd: '/',
      env,
      onStdout: read('stdout'),
      onStderr: read('stderr'),
      onFd3: (d) => {
        status += d.toString('utf8');
        if (!began && status.includes('"child-pid"')) {
          began = true;
          setupText = '';
          // The command's time limit starts now: on a loaded machine the namespaces, the overlay and bubblewrap can
          // take seconds, which were the command's before (a 3 s limit could end a command that had barely run).
          clearTimeout(timer);
          if (!timedOut && !cancelled && !setupTimedOut) timer = setTimeout(onDeadline, s.timeoutMs);
        }
        const m = /"exit-code"\s*:\s*(-?\d+)/.exec(status);
        if (m) exitCode = Number(m[1]);
      },
    });
    const kill = () => program.kill('SIGKILL');
    const onDeadline = () => {
      timedOut = true;
      kill();
    };
    const setupLimitMs = s.setupTimeoutMs ?? Math.max(s.timeoutMs, SETUP_TIMEOUT_MS);
    timer = setTimeout(() => {
      setupTimedOut = true;
      kill();
    }, setupLimitMs);
    const onAbort = () => {
      cancelled = true;
      kill();
    };
    s.signal.addEventListener('abort', onAbort, { once: true });
    if (s.signal.aborted) onAbort();
    const finish = (code: number | null) => {
      clearTimeout(timer);
      s.signal.removeEventListener('abort', onAbort);
      const r = out.result();
      // bubblewrap reports the command's exit code only once the command has ended by itself (a SIGKILL to the
      // launcher ends bubblewrap before it can): a kill at the deadline that came later stopped nothing. The launcher's
      // own exit (the mount namespace torn down: the overlay, a full /tmp) or the daemon's reading of it can come after
      // the deadline on a loaded machine; the run was then reported as timed out and its exit code dropped.
      const ended = exitCode !== null;
      const killed = (timedOut || cancelled || setupTimedOut) && !ended;
      const notSetUp = setupTimedOut && !cancelled && !ended;
      resolve({
        exitCode: killed ? null : (exitCode ?? (began ? code : null)),
        timedOut: timedOut && !ended,
        cancelled: cancelled && !timedOut && !ended,
        ...(!began && !killed ? { setupError: setupText.trim() || `the sandbox exited with ${String(code)}` } : {}),
        ...(notSetUp
          ? {
              setupError: `the sandbox was not set up within ${setupLimitMs / 1000} s${setupText.trim() ? `: ${setupText.trim()}` : ''}`,
            }
          : {}),
        durationMs: performance.now() - started,
        ...r,
      });
    };
    program.exited.then(
      ({ code }) => finish(code),
      (e: unknown) => {
        if (e instanceof SpawnError) {
          // The launcher could not start (setpriv or sh missing, E2BIG): a setup error, as before.
          setupText += e.message;
          finish(null);
        } else if (timedOut || cancelled || setupTimedOut) finish(null);
        else {
          clearTimeout(timer);
          s.signal.removeEventListener('abort', onAbort);
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      },
    );
  });
}
