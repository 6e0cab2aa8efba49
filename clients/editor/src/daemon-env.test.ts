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

describe.skipIf(process.platform !== 'linux')('ensureDaemon', () => {
  it('starts the daemon with the malloc tunables in its environment', async () => {
    const socketPath = path.join(dir, 'd.sock');
    const envFile = path.join(dir, 'env.json');
    // A stand-in daemon: records what it was started with, then listens where the client looks.
    const script = `require('fs').writeFileSync(${JSON.stringify(envFile)}, JSON.stringify({ pid: process.pid, t: process.env.GLIBC_TUNABLES ?? null }));
require('net').createServer(() => {}).listen(${JSON.stringify(socketPath)});`;
    const env = { ...process.env };
    delete env.GLIBC_TUNABLES;
    const client = await ensureDaemon({ socketPath, stateDir: dir, command: [process.execPath, '-e', script], env });
    client.dispose();
    expect(existsSync(envFile)).toBe(true);
    const seen = JSON.parse(readFileSync(envFile, 'utf8')) as { pid: number; t: string | null };
    started.push(seen.pid);
    expect(seen.t).toBe(DAEMON_MALLOC_TUNABLES);
  });
});
