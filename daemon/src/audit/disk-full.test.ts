import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../state/index.js';
import type * as files from './files.js';
import { createAuditLog } from './index.js';

// The checkpoint line is appended with files.ts's writeAll. A full disk can take part of it: the next write to that
// file then fails. Only that is simulated here (the rest is the real log on a real file): a tmpfs accounts in whole
// pages, so a real small disk tears that line only when another writer takes the page freed meanwhile, as the fault
// injection suite saw (test/reliability/fault-injection.test.ts).
const tear = vi.hoisted(() => ({ at: -1 }));
vi.mock('./files.js', async (importOriginal) => {
  const real = await importOriginal<typeof files>();
  return {
    ...real,
    writeAll: async (fh: Parameters<typeof real.writeAll>[0], data: Buffer) => {
      if (tear.at < 0) return real.writeAll(fh, data);
      const at = Math.min(tear.at, data.length - 1);
      tear.at = -1;
      await real.writeAll(fh, data.subarray(0, at));
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    },
  };
});

const ws = '/work/a project';
const typesBySeq = async (log: ReturnType<typeof createAuditLog>) =>
  (await log.query({ workspace: ws, limit: 20 })).entries.sort((a, b) => a.seq - b.seq).map((e) => e.type);
let stateDir: string;
beforeEach(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'sbx-audit-full-'));
});
afterEach(async () => {
  tear.at = -1;
  await rm(stateDir, { recursive: true, force: true });
});

describe('a checkpoint line torn by a full disk', () => {
  it.each([0, 1, 40, 200])(
    'after %i bytes: the log goes on once space is back, the torn piece cut off and recorded, and verifies',
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
        await log.append({ type: 'third', workspace: ws, data: {} });
        await log.append({ type: 'fourth', workspace: ws, data: {} });
        const types = await typesBySeq(log);
        expect(types).toEqual(['first', 'second', ...(at > 0 ? ['audit.torn_tail'] : []), 'third', 'fourth']);
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
      await log.append({ type: 'third', workspace: ws, data: {} });
      await log.seal(ws);
      const types = await typesBySeq(log);
      expect(types).toEqual(['first', 'second', 'audit.torn_tail', 'third']);
      expect(await log.verify(ws)).toMatchObject({ ok: true });
    } finally {
      await log.close().catch(() => undefined);
    }
  });
});
