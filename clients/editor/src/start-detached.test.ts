import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { detachVia, startDetached } from './start-detached.js';

let dir: string;
const started: number[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sbx-detach-'));
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

/** Parent pid and session id of a process, from /proc/PID/stat (fields 4 and 6). */
function parentAndSession(pid: number): { ppid: number; sid: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(f[1]), sid: Number(f[3]) };
}

async function until<T>(f: () => T | undefined): Promise<T> {
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const vias = (['node', 'setsid'] as const).filter((v) => v === 'node' || detachVia() === 'setsid');

describe.skipIf(process.platform !== 'linux')('startDetached', () => {
  it.each(vias)(
    'via %s: the process is in its own session and not a child of the starter; output goes to the log',
    async (via) => {
      const pidFile = path.join(dir, 'pid');
      const logFile = path.join(dir, 'out.log');
      const script = `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); console.log('hello'); setInterval(() => {}, 1000);`;
      await startDetached([process.execPath, '-e', script], { env: process.env, logFile, via });
      const pid = await until(() =>
        existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) || undefined : undefined,
      );
      started.push(pid);
      const { ppid, sid } = parentAndSession(pid);
      expect(ppid).not.toBe(process.pid);
      expect(sid).toBe(pid);
      await until(() => (readFileSync(logFile, 'utf8').includes('hello') ? true : undefined));
    },
  );

  it('via node: a command that cannot start is an error (setsid --fork has exited before its exec fails: that shows in the log)', async () => {
    await expect(
      startDetached([path.join(dir, 'missing-binary')], {
        env: process.env,
        logFile: path.join(dir, 'l'),
        via: 'node',
      }),
    ).rejects.toThrow(/failed/);
  });
});
