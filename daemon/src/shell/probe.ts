import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ReasonOf } from '../errors.js';
import { mkdirAll } from '../state/index.js';

const run = promisify(execFile);

/** The PATH inside the sandbox (and of the steps that set it up), whatever the daemon's own PATH holds. */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The programs the sandbox runs, and the Debian package of each (what `scripts/setup.sh` installs). */
export const PROGRAMS = {
  bwrap: 'bubblewrap',
  unshare: 'util-linux',
  setpriv: 'util-linux',
  prlimit: 'util-linux',
  getfattr: 'attr',
  setfattr: 'attr',
  mknod: 'coreutils',
} as const;
export type Program = keyof typeof PROGRAMS;

/** What the sandbox found on this machine: where each program is, or why it cannot run and how to fix it. */
export interface SandboxProbe {
  available: boolean;
  /** The refusal's reason when not available. */
  reason?: ReasonOf<'SandboxUnavailable'>;
  /** One line per missing piece: what, and how to enable it. */
  missing: string[];
  programs: Partial<Record<Program, string>>;
  /** socat (the proxy bridge inside the sandbox): only networked runs need it. */
  socat: string | null;
  /** Whether this process may make cgroups (root with a writable pids controller): then pids/memory limits are cgroups too. */
  cgroup: 'v1' | 'v2' | null;
  /** bubblewrap's version line. */
  bwrapVersion?: string;
}

/** Finds an executable on the daemon's PATH (absolute entries only). */
export function findProgram(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  const dirs = (env.PATH ?? '').split(':');
  for (const d of dirs) {
    if (!d || !path.isAbsolute(d)) continue;
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

const readSysctl = (file: string): string | null => {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
};

/** How to turn unprivileged user namespaces back on, from the sysctls that turn them off. */
function usernsHow(): string {
  if (readSysctl('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1')
    return 'AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+): `sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0`, or an AppArmor profile for bwrap with `userns,`';
  if (readSysctl('/proc/sys/kernel/unprivileged_userns_clone') === '0')
    return '`sudo sysctl kernel.unprivileged_userns_clone=1` (Debian)';
  if (readSysctl('/proc/sys/user/max_user_namespaces') === '0') return '`sudo sysctl user.max_user_namespaces=15000`';
  return 'enable unprivileged user namespaces (kernel.unprivileged_userns_clone / user.max_user_namespaces)';
}

/** Whether this process can make a cgroup with pids and memory limits (root with a writable hierarchy). */
function cgroupKind(): 'v1' | 'v2' | null {
  if (process.getuid?.() !== 0) return null;
  const writable = (p: string) => {
    try {
      accessSync(p, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (existsSync('/sys/fs/cgroup/pids/cgroup.procs') && writable('/sys/fs/cgroup/pids')) return 'v1';
  if (readSysctl('/sys/fs/cgroup/cgroup.controllers')?.includes('pids') && writable('/sys/fs/cgroup')) return 'v2';
  return null;
}

/**
 * Why: `shell` is offered only where it can really run, and `shadowbox exec` / `status` must say exactly
 * what is missing. Checks the programs, then mounts a real overlay (upper dir in `scratchParent`, where the
 * sandbox's upper dirs live: its file system must take user xattrs) inside `unshare -Urm` and runs
 * `bwrap --unshare-all … true` in it — the same steps a run takes.
 */
export async function probeSandbox(scratchParent: string, env: NodeJS.ProcessEnv = process.env): Promise<SandboxProbe> {
  const out: SandboxProbe = { available: false, missing: [], programs: {}, socat: null, cgroup: null };
  if (process.platform !== 'linux') {
    out.reason = 'not_linux';
    out.missing.push(
      `the host command sandbox needs Linux (this is ${process.platform}); the WASI sandbox (python, bundles) works here`,
    );
    return out;
  }
  for (const [name, pkg] of Object.entries(PROGRAMS) as [Program, string][]) {
    const p = findProgram(name, env);
    if (p) out.programs[name] = p;
    else out.missing.push(`${name} is not installed: \`sudo apt-get install ${pkg}\` (or your distribution's ${pkg})`);
  }
  out.socat = findProgram('socat', env);
  out.cgroup = cgroupKind();
  if (out.missing.length > 0) {
    out.reason = 'missing_programs';
    return out;
  }
  const p = out.programs as Record<Program, string>;
  await mkdirAll(scratchParent, 0o700);
  const dir = await mkdtemp(path.join(scratchParent, 'probe-'));
  try {
    for (const d of ['lower', 'upper', 'work', 'merged']) await mkdir(path.join(dir, d));
    const script = [
      'set -e',
      `mount -t overlay overlay -o "userxattr,lowerdir=$1/lower,upperdir=$1/upper,workdir=$1/work" "$1/merged" || { echo "overlay:" >&2; exit 90; }`,
      'shift',
      'exec "$@"',
    ].join('\n');
    const args = ['-Urm', '--', '/bin/sh', '-c', script, 'sh', dir, p.bwrap, '--unshare-all', '--die-with-parent'];
    args.push('--ro-bind', '/usr', '/usr', ...systemLinks(), '--bind', path.join(dir, 'merged'), '/w', '--', 'true');
    try {
      out.bwrapVersion = (await run(p.bwrap, ['--version'])).stdout.trim();
      // The system PATH, as a run has it: `mount` and `true` are found even when the daemon's PATH is a bare list.
      await run(p.unshare, args, { timeout: 10_000, env: { PATH: SYSTEM_PATH } });
      out.available = true;
    } catch (e) {
      const err = e as { code?: number; stderr?: string };
      const stderr = String(err.stderr ?? '').trim();
      if (/unshare failed|Operation not permitted|No space left/i.test(stderr) && !stderr.startsWith('bwrap')) {
        out.reason = 'userns_disabled';
        out.missing.push(`unprivileged user namespaces are disabled: ${usernsHow()} (${stderr})`);
      } else if (err.code === 90 || stderr.startsWith('overlay:') || /mount/.test(stderr)) {
        out.reason = 'overlay_unavailable';
        out.missing.push(
          `overlayfs cannot be mounted in a user namespace here (needs Linux ≥ 5.11, and a state dir on a file system with user xattrs, e.g. ext4/xfs/btrfs, or tmpfs on ≥ 6.6): ${stderr || 'mount failed'}`,
        );
      } else {
        out.reason = 'bwrap_failed';
        out.missing.push(`bubblewrap cannot create its namespaces here: ${stderr || String(e)}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
  return out;
}

/** bwrap arguments for /bin, /sbin, /lib* as this machine has them: a link into /usr, or a read-only folder. */
export function systemLinks(): string[] {
  const out: string[] = [];
  for (const d of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let target: string | null;
    try {
      target = readlinkOrNull(d);
    } catch {
      continue; // absent
    }
    if (target !== null) out.push('--symlink', target, d);
    else out.push('--ro-bind', d, d);
  }
  return out;
}

function readlinkOrNull(p: string): string | null {
  // EINVAL: there, and not a link; ENOENT is thrown (absent).
  try {
    return readlinkSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EINVAL') return null;
    throw e;
  }
}
