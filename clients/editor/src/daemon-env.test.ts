import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureDaemon } from './connect.js';
import { DAEMON_MALLOC_TUNABLES, daemonStartEnv } from './daemon-env.js';

let dir: string;
const started: number[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sbx-denv-'));
});
afterEach(async () => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await rm(dir, { recursive: true, force: true });
});

describe('daemonStartEnv', () => {
  it('adds the malloc tunables and keeps the rest of the environment', () => {
    const env = daemonStartEnv({ PATH: '/bin', SHADOWBOX_STATE_DIR: '/s' });
    expect(env).toEqual({ PATH: '/bin', SHADOWBOX_STATE_DIR: '/s', GLIBC_TUNABLES: DAEMON_MALLOC_TUNABLES });
  });

  it("keeps the person's own GLIBC_TUNABLES, even an empty one", () => {
    expect(daemonStartEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=1' }).GLIBC_TUNABLES).toBe(
      'glibc.malloc.arena_max=1',
    );
    expect(daemonStartEnv({ GLIBC_TUNABLES: '' }).GLIBC_TUNABLES).toBe('');
  });
});

/** glibc's dynamic loader as mapped into this process (null where libc is not glibc, or not Linux). */
function glibcLoader(): string | null {
  try {
    return /\s(\/\S*\/ld-linux[^/\s]*\.so[.\d]*)$/m.exec(readFileSync('/proc/self/maps', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}
const loader = glibcLoader();
/** The system's transparent huge page mode (`always`, `madvise`, `never`), or null when it has none. */
function thpMode(): string | null {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}
const thp = thpMode();
if (thp !== 'madvise')
  console.log(
    `daemon-env: transparent huge pages are ${thp ?? 'absent'} here, not left to programs: that case is skipped`,
  );
const withoutTunables = () => {
  const env = { ...process.env };
  delete env.GLIBC_TUNABLES;
  return env;
};

// A tunable glibc does not know, or a value it refuses, is ignored without a word: these read back what it applied.
describe('the tunables glibc applies', () => {
  it.skipIf(!loader)('each is one this glibc knows, set to the value given (ld.so --list-tunables)', () => {
    if (!loader) return; // skipped above: libc is not glibc here, and the variable is ignored
    const out = execFileSync(loader, ['--list-tunables'], { env: daemonStartEnv(withoutTunables()), encoding: 'utf8' });
    for (const pair of DAEMON_MALLOC_TUNABLES.split(':')) {
      const [name, value] = pair.split('=');
      const line = out.split('\n').find((l) => l.startsWith(`${name}:`));
      expect(line, name).toBeDefined();
      expect(Number(/^\S+: (0x[0-9a-f]+)/.exec(line!)?.[1]), name).toBe(Number(value));
    }
  });

  it.skipIf(!loader || thp !== 'madvise')(
    "the daemon does not ask for transparent huge pages on malloc's large blocks (hugetlb=1 would)",
    () => {
      // 16 MiB from malloc: with hugetlb=1 glibc madvises its mapping, which the kernel then marks THPeligible (where
      // the system asks programs to choose: `madvise`). Whether a huge page is free to back it is the kernel's affair.
      const script = `Buffer.allocUnsafeSlow(16 << 20);
const maps = require('fs').readFileSync('/proc/self/smaps', 'utf8').split(/\\n(?=[0-9a-f]+-[0-9a-f]+ )/);
process.stdout.write(String(maps.filter((m) => {
  const [range, , , , inode] = m.split('\\n')[0].split(/\\s+/);
  const [a, z] = range.split('-').map((x) => parseInt(x, 16));
  return inode === '0' && z - a >= 16 << 20 && /^THPeligible:\\s+1$/m.test(m);
}).length));`;
      const eligible = (env: NodeJS.ProcessEnv) =>
        Number(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8' }));
      const env = daemonStartEnv(withoutTunables());
      expect(eligible(env)).toBe(0);
      // The check sees it when asked for (the bench's alternative, bench/lib/daemon.mjs).
      expect(eligible({ ...env, GLIBC_TUNABLES: `${env.GLIBC_TUNABLES}:glibc.malloc.hugetlb=1` })).toBeGreaterThan(0);
    },
  );
});

describe.skipIf(process.platform !== 'linux')('ensureDaemon', () => {
  it('starts the daemon with the malloc tunables in its environment', async () => {
    const socketPath = path.join(dir, 'd.sock');
    const envFile = path.join(dir, 'env.json');
    // A stand-in daemon: records what it was started with, then listens where the client looks.
    const script = `require('fs').writeFileSync(${JSON.stringify(envFile)}, JSON.stringify({ pid: process.pid, t: process.env.GLIBC_TUNABLES ?? null }));
require('net').createServer(() => {}).listen(${JSON.stringify(socketPath)});`;
    const env = withoutTunables();
    const client = await ensureDaemon({ socketPath, stateDir: dir, command: [process.execPath, '-e', script], env });
    client.dispose();
    expect(existsSync(envFile)).toBe(true);
    const seen = JSON.parse(readFileSync(envFile, 'utf8')) as { pid: number; t: string | null };
    started.push(seen.pid);
    expect(seen.t).toBe(DAEMON_MALLOC_TUNABLES);
  });
});
