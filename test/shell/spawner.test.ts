// The shell sandbox's bubblewrap starts from the daemon's spawner process (daemon/src/spawner/), not from a fork of
// the daemon. What its parent-death signal is tied to changed with that (setpriv --pdeathsig KILL now fires when the
// spawner dies); these check that nothing a command started outlives either the daemon (a real SIGKILL) or the
// spawner (killed mid-call: the call fails with spawner_exited). Once as the test user, once as nobody.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionCreate, ToolsCall, type ResultOf } from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import { type TestDaemon, until } from '../helpers/daemon.js';
import { makeProject, processesWith, sandboxUsers, shellAvailable, startSandboxDaemon } from './harness.js';

type Call = ResultOf<typeof ToolsCall>;

const childrenOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};
const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
};
/** The parent of `pid` (0 once it is gone). */
const parentOf = (pid: number) => {
  try {
    return Number(/\)\s+\S+\s+(\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
};
const ancestors = (pid: number) => {
  const out: number[] = [];
  for (let p = parentOf(pid); p > 1; p = parentOf(p)) out.push(p);
  return out;
};
const alive = (pid: number) => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};

/** The daemon's spawner process, once it runs. */
async function spawnerOf(d: TestDaemon): Promise<number> {
  let found: number | undefined;
  expect(
    await until(
      () =>
        (found = childrenOf(d.pid).find((k) => cmdline(k).some((a) => /spawner\.cjs$|child\.js$/.test(a)))) !==
        undefined,
      20_000,
    ),
  ).toBe(true);
  return found!;
}

for (const as of sandboxUsers()) {
  describe(`a shell call through the spawner process, daemon as ${as}`, () => {
    let d: TestDaemon | undefined;
    let c: ShadowboxClient | undefined;
    afterEach(async () => {
      c?.dispose();
      await d?.stop().catch(() => undefined);
      await d?.cleanup();
      d = c = undefined;
    });

    /**
     * A daemon, a session, and `sleep <marker>` running in a shell call whose sandbox the spawner started (a first call
     * starts the spawner; a call made while it is still starting runs directly: it is killed and made again).
     */
    async function sleepingThroughSpawner(marker: string) {
      d = await startSandboxDaemon(as);
      const a = await shellAvailable(d);
      if (!a.ok) return { skip: a.why } as const;
      c = await d.connect('test', { permissions: false });
      const { sessionId } = await c.request(SessionCreate, { workspace: makeProject(as, { 'a.txt': 'A\n' }) });
      // No turn starts it here: the first program run does (that run forks the daemon).
      expect((await c.request(ToolsCall, { sessionId, tool: 'shell', input: { command: 'true' } })).isError).toBe(
        false,
      );
      const spawner = await spawnerOf(d);
      for (let attempt = 0; attempt < 20; attempt++) {
        const call = c.request(ToolsCall, {
          sessionId,
          tool: 'shell',
          input: { command: `sleep ${marker}`, timeoutMs: 600_000 },
        });
        const settled = call.then(
          (r) => r,
          (e: unknown) => e,
        );
        // The sleep itself (not bubblewrap or its shell, whose arguments hold the marker too).
        let sleep: number | undefined;
        expect(
          await until(
            () => (sleep = processesWith(marker).find((p) => cmdline(p)[0].endsWith('sleep'))) !== undefined,
            20_000,
          ),
        ).toBe(true);
        const started = processesWith(marker);
        if (ancestors(sleep!).includes(spawner)) return { spawner, started, sleep: sleep!, call: settled } as const;
        for (const p of started) if (ancestors(p).includes(d.pid) && parentOf(p) === d.pid) process.kill(p, 'SIGKILL');
        await settled;
        await until(() => processesWith(marker).length === 0);
      }
      throw new Error('no shell call ran through the spawner');
    }

    it('a daemon killed with SIGKILL during a call leaves no process behind (sandbox, command, spawner)', async (ctx) => {
      const marker = `997.${as === 'self' ? 1 : 2}1`;
      const run = await sleepingThroughSpawner(marker);
      if ('skip' in run) return ctx.skip();
      expect(run.started.every(alive)).toBe(true);
      await d!.kill();
      expect(await until(() => processesWith(marker).length === 0, 20_000)).toBe(true);
      expect(await until(() => !alive(run.spawner), 20_000)).toBe(true);
      expect(run.started.filter(alive)).toEqual([]);
    }, 120_000);

    it('a spawner killed during a call: the call fails with spawner_exited, nothing is left running, the next call runs', async (ctx) => {
      const marker = `997.${as === 'self' ? 1 : 2}2`;
      const run = await sleepingThroughSpawner(marker);
      if ('skip' in run) return ctx.skip();
      process.kill(run.spawner, 'SIGKILL');
      const r = (await run.call) as Call;
      expect(r).toMatchObject({ isError: true, reason: 'spawner_exited' });
      expect(await until(() => processesWith(marker).length === 0, 20_000)).toBe(true);
      expect(run.started.filter(alive)).toEqual([]);
      const { sessionId } = await c!.request(SessionCreate, { workspace: makeProject(as, { 'b.txt': 'B\n' }) });
      const next = await c!.request(ToolsCall, { sessionId, tool: 'shell', input: { command: 'echo again' } });
      expect(next.isError).toBe(false);
      expect((next.data as { stdout: string }).stdout).toBe('again\n');
    }, 120_000);
  });
}
