// Issue 14 §5: the daemon chmod'ed the socket's folder to 0700 — /tmp, and with a socket in `/`, the
// machine's root. Folders standing in for /tmp (1777), $HOME (0755, ours) and another user's folder.
import { chmod, chown, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensurePrivateDir } from './owned-dir.js';

let top: string;
const mode = async (p: string) => (await stat(p)).mode & 0o7777;
beforeEach(async () => {
  top = await mkdtemp(path.join(os.tmpdir(), 'sbx-owned-'));
});
afterEach(async () => {
  await rm(top, { recursive: true, force: true });
});

describe('ensurePrivateDir', () => {
  it('creates a missing folder (and its parents) 0700 and reports it as created', async () => {
    const dir = path.join(top, 'a', 'b');
    expect(await ensurePrivateDir(dir, 'socket')).toEqual({ dir, created: true, mode: 0o700 });
    expect(await mode(dir)).toBe(0o700);
    expect(await ensurePrivateDir(dir, 'socket')).toMatchObject({ created: false, mode: 0o700 });
  });

  it('uses a folder of ours that only we can write as it is, mode untouched (a stand-in for $HOME or /)', async () => {
    const home = path.join(top, 'home');
    await mkdir(home);
    await chmod(home, 0o755);
    expect(await ensurePrivateDir(home, 'state')).toMatchObject({ created: false, mode: 0o755 });
    expect(await mode(home)).toBe(0o755);
  });

  it('refuses a shared folder (a stand-in for /tmp) and leaves its mode alone', async () => {
    const tmp = path.join(top, 'tmp');
    await mkdir(tmp);
    await chmod(tmp, 0o1777);
    await expect(ensurePrivateDir(tmp, 'socket', 's.sock')).rejects.toMatchObject({
      code: -33604,
      data: { reason: 'socket_dir_unsafe', dir: tmp, mode: '1777' },
    });
    await expect(ensurePrivateDir(tmp, 'state')).rejects.toMatchObject({ data: { reason: 'state_dir_unsafe' } });
    expect(await mode(tmp)).toBe(0o1777);
    // The suggested private subfolder is accepted: created 0700 inside the sticky shared folder.
    const err = await ensurePrivateDir(tmp, 'socket', 's.sock').catch((e: Error) => e.message);
    expect(err).toContain(path.join(tmp, `shadowbox-${process.getuid?.() ?? 'me'}`, 's.sock'));
    expect(await ensurePrivateDir(path.join(tmp, 'shadowbox-x'), 'socket')).toMatchObject({ created: true });
  });

  it('refuses a folder another user owns, and one inside a folder others can write without the sticky bit', async () => {
    const foreign = path.join(top, 'foreign');
    await mkdir(foreign, { mode: 0o700 });
    const canChown = await chown(foreign, 65534, 65534).then(
      () => true,
      () => false,
    );
    if (canChown)
      await expect(ensurePrivateDir(foreign, 'state')).rejects.toMatchObject({
        data: { reason: 'state_dir_unsafe', owner: 65534 },
      });
    else console.log('skipped the foreign-owner case: cannot chown here (not root)');
    const open = path.join(top, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    await expect(ensurePrivateDir(path.join(open, 'mine'), 'state')).rejects.toMatchObject({
      data: { reason: 'state_dir_unsafe', ancestor: open },
    });
    expect(await mode(open)).toBe(0o777);
  });

  it('refuses a path that is a file', async () => {
    const f = path.join(top, 'file');
    await writeFile(f, 'x');
    await expect(ensurePrivateDir(f, 'state')).rejects.toMatchObject({ data: { reason: 'state_dir_unsafe' } });
    await expect(ensurePrivateDir(path.join(f, 'below'), 'state')).rejects.toMatchObject({
      data: { reason: 'state_dir_unsafe' },
    });
  });
});
