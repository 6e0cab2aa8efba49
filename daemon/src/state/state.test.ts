// The state helpers in process: the one-daemon lock (taken, refused while its holder lives, taken over
// from a dead one, released only by its holder), the durable write (whole file or nothing, private, no temp
// left behind on failure), config parsing with file/field/reason, and integers from the environment.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isShadowboxError } from '../errors.js';
import { loadConfig, envInt } from './config.js';
import { writeFileAtomic } from './durable.js';
import { acquireLock, readLock, type LockInfo } from './lock.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sbx-state-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const info = (pid = process.pid): LockInfo => ({
  pid,
  socketPath: '/s',
  webUrl: null,
  startedAt: '2026-01-01T00:00:00.000Z',
  version: 't',
});

/** The pid of a process that has exited (so it is not alive, and not ours). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

describe('daemon lock', () => {
  it('is taken once; a live holder is named; a dead holder is taken over; release removes only ours', async () => {
    const file = path.join(dir, 'daemon.lock');
    const lock = await acquireLock(file, info());
    expect((await readLock(file))?.pid).toBe(process.pid);
    await lock.update({ webUrl: 'http://127.0.0.1:1' });
    expect((await readLock(file))?.webUrl).toBe('http://127.0.0.1:1');
    // Another live process holds it: refused with where it is.
    await writeFile(file, JSON.stringify(info(process.ppid)));
    const e = await acquireLock(file, info()).catch((x: unknown) => x);
    expect(isShadowboxError(e) && e.reason === 'daemon_running').toBe(true);
    // Our release does not remove a lock that is not ours.
    await lock.release();
    expect((await readLock(file))?.pid).toBe(process.ppid);
    // A dead holder's lock is taken over.
    await writeFile(file, JSON.stringify(info(deadPid())));
    expect(await readLock(file)).toBeNull();
    const again = await acquireLock(file, info());
    await again.release();
    expect(await readFile(file, 'utf8').catch(() => null)).toBeNull();
  });

  it('a lock left torn or empty by a crash (its update is not fsynced) is taken over, never refused', async () => {
    const file = path.join(dir, 'daemon.lock');
    for (const left of ['', '{"pid": 12', JSON.stringify({ pid: 'x' }), '\u0000\u0000\u0000']) {
      await writeFile(file, left);
      expect(await readLock(file)).toBeNull();
      const lock = await acquireLock(file, info());
      expect((await readLock(file))?.pid).toBe(process.pid);
      await lock.release();
    }
  });
});

describe('writeFileAtomic', () => {
  it('replaces the whole file, 0600 by default, and leaves no temp file', async () => {
    const file = path.join(dir, 'f.json');
    await writeFile(file, 'old');
    await writeFileAtomic(file, 'new content');
    expect(await readFile(file, 'utf8')).toBe('new content');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['f.json']);
  });

  it('leaves the old file and no temp file when the write fails', async () => {
    const file = path.join(dir, 'sub', 'f.json');
    const e = await writeFileAtomic(file, 'x').catch((x: unknown) => x);
    expect((e as NodeJS.ErrnoException).code).toBe('ENOENT');
    await writeFileAtomic(file, 'x', { mkdirMode: 0o700 });
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    // A target that is a directory cannot be replaced: the rename fails, the temp file is removed.
    const asDir = path.join(dir, 'd');
    await writeFileAtomic(path.join(asDir, 'inner'), 'x', { mkdirMode: 0o700 });
    await expect(writeFileAtomic(asDir, 'y')).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['d', 'sub']);
  });
});

describe('config', () => {
  it('reads a valid file, and names file, field and reason of an invalid one', async () => {
    const file = path.join(dir, 'config.json');
    await writeFile(file, JSON.stringify({ model: 'openai/gpt-4o-mini', mode: 'auto' }));
    expect((await loadConfig(file, {})).config).toMatchObject({ model: 'openai/gpt-4o-mini', mode: 'auto' });
    await writeFile(file, JSON.stringify({ mode: 'yolo' }));
    const bad = await loadConfig(file, {}).catch((x: unknown) => x);
    expect(isShadowboxError(bad) && bad.reason === 'config_invalid').toBe(true);
    expect((bad as Error).message).toContain(file);
    expect((bad as Error).message).toContain('mode');
    await writeFile(file, '{ not json');
    const notJson = await loadConfig(file, {}).catch((x: unknown) => x);
    expect(isShadowboxError(notJson) && notJson.reason === 'config_not_json').toBe(true);
  });

  it('reads non-negative integers from the environment and refuses anything else', () => {
    expect(envInt({ N: '12' }, 'N')).toBe(12);
    expect(envInt({}, 'N')).toBeUndefined();
    for (const v of ['-1', '1.5', 'x']) expect(() => envInt({ N: v }, 'N')).toThrow(/N must be/);
  });
});

describe('resolveStatePaths', () => {
  it('treats an empty SHADOWBOX_STATE_DIR or SHADOWBOX_SOCKET as unset (never the current folder)', async () => {
    const { resolveStatePaths } = await import('./paths.js');
    const env = { HOME: '/home/me', SHADOWBOX_STATE_DIR: '', SHADOWBOX_SOCKET: '', XDG_RUNTIME_DIR: '/run/user/1' };
    const p = resolveStatePaths(env);
    expect(p.stateDir).toBe('/home/me/.local/state/shadowbox');
    expect(p.socketPath).toBe('/run/user/1/shadowbox/daemon.sock');
    expect(resolveStatePaths({ ...env, SHADOWBOX_STATE_DIR: '/s' }).socketPath).toBe('/s/daemon.sock');
  });
});
