// The logger never goes silent for good: a write that fails (a full disk, a folder gone) drops lines
// and counts them, and the first line logged after the retry wait reopens the file (injected clock).
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { mountSmallDisk } from './test-support.js';

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

const disk = mountSmallDisk(256 * 1024);
afterAll(() => disk?.unmount());

describe('logger', () => {
  it('writes each message as one line: a line break or an escape sequence someone put in it is written escaped', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'sbx-log-'));
    const file = path.join(root, 'daemon.log');
    const log = createLogger({ file });
    try {
      log.info(
        'read x\n2026-12-04T00:00:00.000Z error FORGED: audit key rotated\u001b[2J\r\u2028 failed in the editor',
      );
      await log.close();
      const lines = (await readFile(file, 'utf8')).split('\n');
      expect(lines).toHaveLength(2); // one line, then the end of the file
      expect(lines[0]).toMatch(
        /^\S+ info read x\\n2026-12-04T00:00:00\.000Z error FORGED: audit key rotated\\u001b\[2J\\r\\u2028 failed in the editor$/,
      );
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('reopens its file after a failure once the retry wait has passed, and says how many lines were lost', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'sbx-log-'));
    const dir = path.join(root, 'missing');
    const file = path.join(dir, 'daemon.log');
    let t = 0;
    const log = createLogger({ file, now: () => t, retryMs: 1000 });
    try {
      log.info('first'); // the folder is missing: the open fails
      await until(() => log.failing());
      log.info('lost one');
      log.info('lost two');
      await mkdir(dir); // the cause goes away
      t += 999;
      log.info('lost three'); // not yet: the wait has not passed
      expect(log.failing()).toBe(true);
      t += 1;
      log.info('back');
      await log.close();
      const text = await readFile(file, 'utf8');
      expect(text).toMatch(/warn log: 3 line\(s\) were dropped while .* could not be written\n.*info back\n$/);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it.skipIf(!disk)('keeps logging after the disk was full once space is freed (real tmpfs)', async () => {
    const file = path.join(disk!.dir, 'daemon.log');
    let t = 0;
    const log = createLogger({ file, now: () => t, retryMs: 10 });
    log.info('before');
    await until(() => existsSync(file) && readFileSync(file, 'utf8').includes('before'));
    disk!.fill();
    log.info('x'.repeat(8192)); // does not fit
    await until(() => log.failing());
    log.info('dropped');
    disk!.free();
    t += 10;
    log.info('after');
    await log.close();
    const text = await readFile(file, 'utf8');
    expect(text).toContain('info before');
    expect(text).toMatch(/line\(s\) were dropped/);
    expect(text.trimEnd().endsWith('info after')).toBe(true);
  });
});
