// Issue 14 §5: the listener removed whatever sat at the socket path (`rm --force`), a regular file included.
// Only a stale socket is replaced; a live one, a file, a folder or a symlink are left alone and refused.
import { spawn } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listenSocket } from './socket.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sbx-sock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});
const listen = (p: string) => listenSocket(p, 1 << 20, (ch) => ch.close());

/** A socket file nobody listens on: bound by a process killed before it could clean up. */
async function staleSocket(p: string): Promise<void> {
  const child = spawn(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(p)}, () => process.kill(process.pid, 'SIGKILL'))`,
  ]);
  await new Promise((r) => child.once('exit', r));
  expect((await lstat(p)).isSocket()).toBe(true);
}

describe('listenSocket', () => {
  it('listens 0600 and removes its own socket on close', async () => {
    const p = path.join(dir, 'd.sock');
    const s = await listen(p);
    expect((await stat(p)).mode & 0o777).toBe(0o600);
    await s.close();
    await expect(lstat(p)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('replaces a stale socket left by a dead daemon', async () => {
    const p = path.join(dir, 'd.sock');
    await staleSocket(p);
    const s = await listen(p);
    await new Promise<void>((resolve, reject) => net.connect(p).once('connect', resolve).once('error', reject));
    await s.close();
  });

  it('refuses a path taken by a regular file, a folder or a symlink, and leaves them as they were', async () => {
    const file = path.join(dir, 'file.sock');
    await writeFile(file, 'not a socket');
    await expect(listen(file)).rejects.toMatchObject({ code: -33604, data: { reason: 'socket_path_taken' } });
    expect(await readFile(file, 'utf8')).toBe('not a socket');
    const folder = path.join(dir, 'folder.sock');
    await mkdir(folder);
    await expect(listen(folder)).rejects.toMatchObject({ data: { reason: 'socket_path_taken' } });
    const link = path.join(dir, 'link.sock');
    await symlink(file, link);
    await expect(listen(link)).rejects.toMatchObject({ data: { reason: 'socket_path_taken' } });
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
  });

  it('refuses a socket another server is listening on, which keeps working', async () => {
    const p = path.join(dir, 'd.sock');
    const other = await listen(p);
    await expect(listen(p)).rejects.toMatchObject({ data: { reason: 'socket_in_use' } });
    await new Promise<void>((resolve, reject) => net.connect(p).once('connect', resolve).once('error', reject));
    await other.close();
  });

  it('on close, leaves alone a file that replaced its socket', async () => {
    const p = path.join(dir, 'd.sock');
    const s = await listen(p);
    await rm(p);
    await writeFile(p, 'someone else');
    await s.close();
    expect(await readFile(p, 'utf8')).toBe('someone else');
  });
});
