import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../state/index.js';

/** The limits of one sandboxed command (config.json `shell`; a call may lower the time limit, or raise it up to the cap). */
export interface ShellLimits {
  /** Wall time when the call gives none (default 120 s). */
  timeoutMs: number;
  /** The most a call may ask for (default 600 s); more is refused, never cut. */
  maxTimeoutMs: number;
  /** Output kept per run, stdout and stderr together (default 1 MiB): the first and the last half, a marker between. */
  maxOutputBytes: number;
  /** Processes of the sandbox at once (RLIMIT_NPROC counted in its user namespace; a cgroup's pids.max as root). */
  maxProcesses: number;
  /** Private writable memory of each process (RLIMIT_DATA); as root with a cgroup also the sum (memory limit). */
  memoryBytes: number;
  /** Largest file a process may write (RLIMIT_FSIZE). */
  maxFileBytes: number;
  /** Size of the private /tmp (a tmpfs: memory). */
  tmpBytes: number;
}

/** Defaults (docs/sandboxes.md says what each one really enforces). */
export const DEFAULT_SHELL_LIMITS: ShellLimits = {
  timeoutMs: 120_000,
  maxTimeoutMs: 600_000,
  maxOutputBytes: 1024 * 1024,
  maxProcesses: 512,
  memoryBytes: 4 * 1024 ** 3,
  maxFileBytes: 4 * 1024 ** 3,
  tmpBytes: 1024 ** 3,
};

/** prlimit's arguments for a run's limits (set before bubblewrap makes its user namespace, so they hold inside it). */
export function prlimitArgs(l: ShellLimits): string[] {
  return [
    `--nproc=${l.maxProcesses}`,
    `--data=${l.memoryBytes}`,
    `--fsize=${l.maxFileBytes}`,
    '--core=0',
    // A few thousand descriptors: enough for test runners, and a bound on what one process can hold open.
    '--nofile=8192',
  ];
}

/** Where run cgroups are made: the v1 pids and memory hierarchies, or the v2 root. */
export function cgroupParents(kind: 'v1' | 'v2'): string[] {
  return kind === 'v1' ? ['/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory'] : ['/sys/fs/cgroup'];
}

const RUN_CGROUP = /^shadowbox-(\d+)-[0-9a-f]{8}$/;

/**
 * Why: a daemon killed with -9 never removes its runs' cgroups (its processes died with it, the folders
 * stay). At start, removes every `shadowbox-<pid>-…` cgroup whose daemon is gone; rmdir removes only an
 * empty one, so nothing still running is touched. Returns how many it removed.
 */
export async function sweepStaleCgroups(kind: 'v1' | 'v2' | null, parents = kind ? cgroupParents(kind) : []) {
  let removed = 0;
  for (const parent of parents) {
    const names = await readdir(parent).catch(() => [] as string[]);
    for (const name of names) {
      const m = RUN_CGROUP.exec(name);
      if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
      await rmdir(path.join(parent, name)).then(
        () => removed++,
        () => undefined,
      );
    }
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A cgroup made for one run (root only): the launcher joins it before anything else starts. */
export interface RunCgroup {
  /** `cgroup.procs` files the launcher writes its pid to. */
  procs: string[];
  remove(): Promise<void>;
}

/**
 * Why: RLIMIT_NPROC does not bind root (the kernel exempts uid 0), so as root a fork bomb would be held
 * only by the time limit; a cgroup's pids.max holds it, and memory.max bounds the sum of the processes'
 * memory. Made only where this process may (root with a writable v1 or v2 hierarchy); null otherwise.
 */
export async function makeRunCgroup(
  kind: 'v1' | 'v2' | null,
  l: ShellLimits,
  logger: Logger,
): Promise<RunCgroup | null> {
  if (!kind) return null;
  const name = `shadowbox-${process.pid}-${randomBytes(4).toString('hex')}`;
  const made: string[] = [];
  try {
    if (kind === 'v1') {
      const pids = path.join(cgroupParents('v1')[0], name);
      await mkdir(pids);
      made.push(pids);
      await writeFile(path.join(pids, 'pids.max'), String(l.maxProcesses));
      const mem = path.join(cgroupParents('v1')[1], name);
      try {
        await mkdir(mem);
        made.push(mem);
        await writeFile(path.join(mem, 'memory.limit_in_bytes'), String(l.memoryBytes));
      } catch {
        // no writable memory controller: pids alone
      }
    } else {
      const dir = path.join('/sys/fs/cgroup', name);
      await mkdir(dir);
      made.push(dir);
      await writeFile(path.join(dir, 'pids.max'), String(l.maxProcesses));
      await writeFile(path.join(dir, 'memory.max'), String(l.memoryBytes)).catch(() => undefined);
    }
  } catch (e) {
    logger.debug(`shell: no cgroup for the run (${(e as Error).message}); rlimits only`);
    for (const d of made.reverse()) await rmdir(d).catch(() => undefined);
    return null;
  }
  return {
    procs: made.map((d) => path.join(d, 'cgroup.procs')),
    // Empty once every process of the run is gone (the caller waits for the launcher's exit first).
    async remove() {
      for (const d of [...made].reverse()) {
        for (let i = 0; i < 50; i++) {
          try {
            await rmdir(d);
            break;
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== 'EBUSY') break;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      }
    },
  };
}
