import { readFileSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ONCE, writeFileAtomic } from '../state/index.js';
import { findProgram, PROGRAMS, type SandboxProbe } from './probe.js';

/**
 * Why: the probe mounts an overlay and runs bubblewrap (three process starts, 40–100 ms of a daemon's
 * start, most of it fork/exec on the main thread). A probe that succeeded is kept in the state dir with
 * what decides it — kernel, user, the programs' files, the user-namespace sysctls, the state dir's file
 * system — and reused while all of those are unchanged; the daemon probes again after it is ready
 * (`Shell.recheck`), so a change the key cannot see (an AppArmor rule) is found within a start. A failed
 * probe is never kept: a machine that cannot run the sandbox probes at every start (it fails fast).
 */
const CacheFile = lazySchema(() => z.object({ key: z.string(), probe: z.unknown() }));

const FILE = 'probe.json';
const SYSCTLS = [
  '/proc/sys/kernel/unprivileged_userns_clone',
  '/proc/sys/user/max_user_namespaces',
  '/proc/sys/kernel/apparmor_restrict_unprivileged_userns',
];

const ProbeSchema = lazySchema(() =>
  z.object({
    available: z.literal(true),
    missing: z.array(z.string()).length(0),
    programs: z.record(z.string(), z.string()),
    socat: z.string().nullable(),
    cgroup: z.enum(['v1', 'v2']).nullable(),
    bwrapVersion: z.string().optional(),
  }),
);

/** What a probe's outcome depends on, as one string; a different string means probe again. */
export function probeKey(scratchParent: string, env: NodeJS.ProcessEnv | undefined): string {
  const file = (p: string | null) => {
    if (!p) return null;
    try {
      const st = statSync(p);
      return [p, st.ino, st.size, st.mtimeMs, st.mode];
    } catch {
      return [p, null];
    }
  };
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8').trim();
    } catch {
      return null;
    }
  };
  let dev: number | null = null;
  try {
    dev = statSync(path.dirname(scratchParent)).dev;
  } catch {
    // no state dir yet: the probe runs
  }
  return JSON.stringify({
    v: 1,
    kernel: os.release(),
    uid: process.getuid?.() ?? null,
    gid: process.getgid?.() ?? null,
    programs: [...Object.keys(PROGRAMS), 'socat'].map((n) => file(findProgram(n, env))),
    sysctls: SYSCTLS.map(read),
    cgroups: read('/sys/fs/cgroup/cgroup.controllers'),
    dev,
  });
}

/** The kept probe when its key still holds, else null. */
export async function readCachedProbe(scratchParent: string, key: string): Promise<SandboxProbe | null> {
  const raw = await readFile(path.join(scratchParent, FILE), 'utf8').catch(() => null);
  if (raw === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return null; // a torn or foreign file: probe again (and overwrite it)
  }
  const file = CacheFile().safeParse(json, ONCE);
  if (!file.success || file.data.key !== key) return null;
  const probe = ProbeSchema().safeParse(file.data.probe, ONCE);
  return probe.success ? probe.data : null;
}

/** Keeps a successful probe (a failed one is removed, never kept). */
export async function writeCachedProbe(scratchParent: string, key: string, probe: SandboxProbe): Promise<void> {
  const file = path.join(scratchParent, FILE);
  if (!probe.available) {
    await rm(file, { force: true });
    return;
  }
  await writeFileAtomic(file, `${JSON.stringify({ key, probe })}\n`, { mkdirMode: 0o700 });
}
