import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../state/index.js';
import type * as state from '../state/index.js';
import type * as files from './files.js';
import { auditFiles } from './files.js';
import { createAuditLog } from './index.js';

// A batch of entries is appended with state's writeAllSync, a checkpoint line with files.ts's writeAll. A full disk
// can take part of either. Only that is simulated here (the rest is the real log on a real file): a tmpfs accounts in
// whole pages, so a real small disk tears a line only when the write outgrows the page the log's tail is on, as the
// fault injection suite saw (test/reliability/fault-injection.test.ts: a verify between the failure and the next
// append reported a torn line).
const tear = vi.hoisted(() => ({ at: -1, sync: -1 }));
const enospc = () => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
vi.mock('./files.js', async (importOriginal) => {
  const real = await importOriginal<typeof files>();
  return {
    ...real,
    writeAll: async (fh: Parameters<typeof real.writeAll>[0], data: Buffer) => {
      if (tear.at < 0) return real.writeAll(fh, data);
      const at = Math.min(tear.at, data.length - 1);
      tear.at = -1;
      await real.writeAll(fh, data.subarray(0, at));
      throw enospc();
    },
  };
});
vi.mock('../state/index.js', async (importOriginal) => {
  const real = await importOriginal<typeof state>();
  return {
    ...real,
    writeAllSync: (fd: number, bytes: Uint8Array, length?: number, file?: string) => {
      if (tear.sync < 0) return real.writeAllSync(fd, bytes, length, file);
      const at = Math.min(tear.sync, bytes.byteLength - 1);
      tear.sync = -1;
      real.writeAllSync(fd, bytes.subarray(0, at));
      throw enospc();
    },
  };
});

const ws = '/work/a project';
const typesBySeq = async (log: ReturnType<typeof createAuditLog>) =>
  (await log.query({ workspace: ws, limit: 20 })).entries.sort((a, b) => a.seq - b.seq).map((e) => e.type);
let stateDir: string;
const endsWithNewline = async () => (await readFile(auditFiles(stateDir, ws).log)).at(-1) === 0x0a;
beforeEach(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'sbx-audit-full-'));
});
afterEach(async () => {
  tear.at = -1;
  tear.sync = -1;
  await rm(stateDir, { recursive: true, force: true });
});

describe('a checkpoint line torn by a full disk', () => {
  it.each([0, 1, 40, 200])(
    'after %i bytes: the torn piece is cut back at once, the log verifies before the next append and goes on',
    async (at) => {
      const errors: string[] = [];
      const logger = { ...silentLogger, error: (m: string) => errors.push(m) };
      const log = createAuditLog({ stateDir, logger, checkpointIdleMs: 0, checkpointEvery: 1 });
      try {
        await log.append({ type: 'first', workspace: ws, data: {} });
        await log.seal(ws); // its checkpoint, which follows the append's answer, is written
        tear.at = at;
        // Its entry is written; the checkpoint that follows it (one per entry here) is torn and fails (logged).
        await log.append({ type: 'second', workspace: ws, data: {} });
        await log.seal(ws);
        expect(errors.join('\n')).toContain('checkpoint failed');
        expect(await endsWithNewline()).toBe(true);
        expect(await log.verify(ws)).toMatchObject({ ok: true });
        await log.append({ type: 'third', workspace: ws, data: {} });
        await log.append({ type: 'fourth', workspace: ws, data: {} });
        const types = await typesBySeq(log);
        expect(types).toEqual(['first', 'second', 'third', 'fourth']);
        expect(await log.verify(ws)).toMatchObject({ ok: true });
      } finally {
        await log.close().catch(() => undefined);
      }
    },
  );

  it('a seal (a turn end) whose checkpoint line is torn: the same', async () => {
    const log = createAuditLog({ stateDir, logger: silentLogger, checkpointIdleMs: 0, checkpointEvery: 100 });
    try {
      await log.append({ type: 'first', workspace: ws, data: {} });
      await log.append({ type: 'second', workspace: ws, data: {} });
      tear.at = 30;
      await expect(log.seal(ws)).rejects.toThrow(/ENOSPC|full/);
      expect(await log.verify(ws)).toMatchObject({ ok: true });
      await log.append({ type: 'third', workspace: ws, data: {} });
      await log.seal(ws);
      const types = await typesBySeq(log);
      expect(types).toEqual(['first', 'second', 'third']);
      expect(await log.verify(ws)).toMatchObject({ ok: true });
    } finally {
      await log.close().catch(() => undefined);
    }
  });
});

describe('a batch of entries torn by a full disk', () => {
  it.each([1, 40])(
    'after %i bytes: the append fails, the piece is cut back, and the log verifies now and after a restart',
    async (at) => {
      let log = createAuditLog({ stateDir, logger: silentLogger, checkpointIdleMs: 0, checkpointEvery: 100 });
      try {
        await log.append({ type: 'first', workspace: ws, data: {} });
        await log.seal(ws);
        tear.sync = at;
        await expect(log.append({ type: 'lost', workspace: ws, data: { note: 'x'.repeat(100) } })).rejects.toThrow(
          /full|ENOSPC/,
        );
        // Nothing else is written before these reads: a fault-injection run's verify came right after the failure.
        expect(await endsWithNewline()).toBe(true);
        expect(await log.verify(ws)).toMatchObject({ ok: true });
        await log.close();
        log = createAuditLog({ stateDir, logger: silentLogger, checkpointIdleMs: 0, checkpointEvery: 100 });
        expect(await log.verify(ws)).toMatchObject({ ok: true });
        await log.append({ type: 'second', workspace: ws, data: {} });
        expect(await typesBySeq(log)).toEqual(['first', 'second']);
        expect(await log.verify(ws)).toMatchObject({ ok: true });
      } finally {
        await log.close().catch(() => undefined);
      }
    },
  );
});
