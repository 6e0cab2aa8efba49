import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readWholeInto, writeAll, writeAllSync } from './file-io.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sbx-file-io-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff));

describe('readWholeInto', () => {
  it('reads a file larger than one read step whole, into the buffer it is given (a SharedArrayBuffer here)', async () => {
    const bytes = pattern(3 * 1024 * 1024 + 17);
    writeFileSync(join(dir, 'f'), bytes);
    const { bytes: out, read } = await readWholeInto(
      join(dir, 'f'),
      (size) => new Uint8Array(new SharedArrayBuffer(size)),
    );
    expect(read).toBe(bytes.length);
    expect(out.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(Buffer.from(out).equals(bytes)).toBe(true);
  });

  it('reads an empty file as zero bytes, and a missing one as ENOENT', async () => {
    writeFileSync(join(dir, 'empty'), '');
    await expect(readWholeInto(join(dir, 'empty'), (size) => Buffer.alloc(size))).resolves.toMatchObject({ read: 0 });
    await expect(readWholeInto(join(dir, 'missing'), (size) => Buffer.alloc(size))).rejects.toMatchObject({
      code: 'ENOENT',
    });
  });
});

describe('writeAll / writeAllSync', () => {
  it('write exactly the first `length` bytes', async () => {
    const bytes = pattern(2 * 1024 * 1024 + 5);
    for (const [name, run] of [
      ['sync', (fd: number) => Promise.resolve(writeAllSync(fd, bytes, bytes.length - 5))],
      ['async', (fd: number) => writeAll(fd, bytes, bytes.length - 5)],
    ] as const) {
      const fd = openSync(join(dir, name), 'wx');
      try {
        await run(fd);
      } finally {
        closeSync(fd);
      }
      expect(readFileSync(join(dir, name)).equals(bytes.subarray(0, bytes.length - 5))).toBe(true);
    }
  });

  it.runIf(existsSync('/dev/full'))('a full device is ENOSPC, never a silent short file (/dev/full)', async () => {
    const fd = openSync('/dev/full', 'w');
    try {
      expect(() => writeAllSync(fd, pattern(10), 10, 'x')).toThrow(expect.objectContaining({ code: 'ENOSPC' }));
      await expect(writeAll(fd, pattern(10), 10, 'x')).rejects.toMatchObject({ code: 'ENOSPC' });
    } finally {
      closeSync(fd);
    }
  });
});
