// Issue 16: `shadowbox exec` — output streamed while the command runs, exit status the command's, Ctrl-C
// ends the whole tree, `shadowbox status` lists the sandboxes, and where the sandbox cannot run, exec says
// exactly what is missing and how to enable it. A state dir inside the workspace is invisible to commands.
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaemonStatus, SessionList, ToolsList } from '@shadowbox/protocol';
import { findProgram, probeSandbox } from '../../daemon/src/shell/probe.js';
import { type TestDaemon, until } from '../helpers/daemon.js';
import { makeProject, processesWith, runCliAs, sandboxUsers, shellAvailable, startSandboxDaemon } from './harness.js';

for (const as of sandboxUsers()) {
  describe(`shadowbox exec, daemon as ${as}`, () => {
    let d: TestDaemon;
    let skip = '';
    beforeAll(async () => {
      d = await startSandboxDaemon(as);
      const a = await shellAvailable(d);
      if (!a.ok) {
        skip = a.why;
        console.log(`skipped: the host sandbox cannot run here (${a.why})`);
      }
    }, 60_000);
    afterAll(async () => {
      await d?.stop();
      await d?.cleanup();
    });

    it("exits with the command's status, stdout and stderr apart; writes wait for review", async (ctx) => {
      if (skip) return ctx.skip();
      const ws = makeProject(as, { 'a.txt': 'A\n' });
      const r = await runCliAs(
        as,
        ['exec', '--', 'sh', '-c', 'echo first; echo err >&2; echo made > out.txt; echo second; exit 7'],
        d.env,
        { cwd: ws },
      ).done;
      expect(r.code).toBe(7);
      expect(r.stdout).toBe('first\nsecond\n');
      expect(r.stderr).toContain('err\n');
      expect(r.stderr).toContain('1 path changed in the shadow workspace');
      const review = await runCliAs(as, ['review'], d.env, { cwd: ws }).done;
      expect(review.stdout).toContain('added    out.txt');
    }, 60_000);

    it('streams output while the command runs; Ctrl-C ends it and everything it started, exit 130', async (ctx) => {
      if (skip) return ctx.skip();
      const ws = makeProject(as, { 'a.txt': 'A\n' });
      // The command never ends by itself: "ready" can only have been streamed, not printed at the end.
      let seen = '';
      const run = runCliAs(as, ['exec', '--', 'sh', '-c', 'echo ready; sleep 1000.875 & sleep 1000.875'], d.env, {
        cwd: ws,
        onStdout: (s) => (seen = s),
      });
      // argv of the two sleeps themselves (NUL-separated), not of the launchers that carry the script.
      const sleeps = () => processesWith('sleep\u00001000.875').length;
      expect(await until(() => seen.includes('ready') && sleeps() === 2, 30_000)).toBe(true);
      run.kill('SIGINT');
      const r = await run.done;
      expect(r.stdout).toBe('ready\n');
      expect(r.stderr).toContain('cancelled');
      expect(r.code).toBe(130);
      expect(await until(() => sleeps() === 0)).toBe(true);
    }, 60_000);

    it('status lists both sandboxes', async (ctx) => {
      if (skip) return ctx.skip();
      const r = await runCliAs(as, ['status'], d.env, { cwd: '/' }).done;
      expect(r.stdout).toMatch(/wasi\s+available/);
      expect(r.stdout).toMatch(/shell\s+available: bubblewrap/);
    }, 30_000);
  });
}

for (const as of sandboxUsers())
  describe(`daemon stop and kill -9 end a running command's tree, daemon as ${as}`, () => {
    for (const how of ['stop', 'kill'] as const)
      it(`daemon ${how}`, async (ctx) => {
        const d = await startSandboxDaemon(as);
        try {
          const a = await shellAvailable(d);
          if (!a.ok) {
            console.log(`skipped: the host sandbox cannot run here (${a.why})`);
            return ctx.skip();
          }
          const ws = makeProject(as, { 'a.txt': 'A\n' });
          const marker = how === 'stop' ? '1000.625' : '1000.375';
          const run = runCliAs(as, ['exec', '--', 'sh', '-c', `sleep ${marker} & sleep ${marker}`], d.env, { cwd: ws });
          const sleeps = () => processesWith(`sleep\u0000${marker}`).length;
          expect(await until(() => sleeps() === 2, 30_000)).toBe(true);
          // As root the run has cgroups (`shadowbox-<daemon pid>-…`); a daemon killed with -9 cannot remove them.
          const cgroups = () => runCgroups(d.pid);
          const hadCgroups = cgroups().length > 0;
          await (how === 'stop' ? d.stop() : d.kill());
          // SIGTERM: the daemon kills every run before it exits; SIGKILL: the parent-death signal does.
          expect(await until(() => sleeps() === 0)).toBe(true);
          await run.done.catch(() => undefined);
          if (hadCgroups) {
            // The next daemon's start removes what the killed one left.
            const next = await startSandboxDaemon(as);
            await next.stop();
            await next.cleanup();
            expect(cgroups()).toEqual([]);
          }
        } finally {
          await d.stop();
          await d.cleanup();
        }
      }, 60_000);
  });

/** The run cgroups of the daemon with this pid (v1 pids/memory or v2), as the sandbox names them. */
function runCgroups(pid: number): string[] {
  const out: string[] = [];
  for (const parent of ['/sys/fs/cgroup', '/sys/fs/cgroup/pids', '/sys/fs/cgroup/memory'])
    for (const name of existsSync(parent) ? readdirSync(parent) : [])
      if (name.startsWith(`shadowbox-${pid}-`)) out.push(path.join(parent, name));
  return out;
}

// The sandbox is set up after the ready line (its kept probe read, stale cgroups removed): a fresh daemon's first
// request that needs it waits for it, so neither a first tools/list nor a first status misses the shell. To prove the
// wait, the setup is held: the daemon's PATH leads to a bwrap that, until released, stops at its first run (the
// probe's `bwrap --version`) and says so. The request arrives while it is held; a request that waits for nothing,
// sent after it, is answered first; only then is the probe released.
describe('a fresh daemon sets the shell up after ready', () => {
  const realBwrap = findProgram('bwrap');
  if (!realBwrap) console.log('the held-setup test is skipped: bubblewrap is not installed here');
  it.skipIf(!realBwrap)(
    "its first tools/list and its first status wait for the setup and say what this machine's probe says",
    async () => {
      const expected = (await probeSandbox(mkdtempSync(path.join(os.tmpdir(), 'sbx-probe-')))).available;
      for (const first of ['tools/list', 'status'] as const) {
        const gate = mkdtempSync(path.join(os.tmpdir(), 'sbx-gate-'));
        execFileSync('mkfifo', [path.join(gate, 'fifo')]);
        writeFileSync(
          path.join(gate, 'bwrap'),
          [
            '#!/bin/sh',
            `if [ ! -e '${gate}/released' ]; then : > '${gate}/held'; read _ < '${gate}/fifo'; fi`,
            `exec '${realBwrap}' "$@"`,
          ].join('\n') + '\n',
          { mode: 0o755 },
        );
        // Later runs pass through; the held one reads its line. Opened without blocking: with no reader (the probe never
        // ran the wrapper) the open fails at once rather than hanging the test.
        const release = () => {
          if (existsSync(path.join(gate, 'released'))) return;
          writeFileSync(path.join(gate, 'released'), '');
          try {
            const fd = openSync(path.join(gate, 'fifo'), constants.O_WRONLY | constants.O_NONBLOCK);
            writeSync(fd, '\n');
            closeSync(fd);
          } catch {
            // ENXIO: nobody holds the gate
          }
        };
        const d = await startSandboxDaemon('self', { PATH: `${gate}:${process.env.PATH ?? ''}` });
        try {
          expect(await until(() => existsSync(path.join(gate, 'held')))).toBe(true);
          const c = await d.connect();
          const order: string[] = [];
          const answer =
            first === 'tools/list'
              ? c.request(ToolsList, {}).then((r) => r.tools.some((t) => t.name === 'shell'))
              : c.request(DaemonStatus, {}).then((r) => r.sandboxes.find((x) => x.name === 'shell')?.available);
          void answer.then(() => order.push(first));
          await c.request(SessionList, {});
          order.push('session/list');
          release();
          expect(await answer).toBe(expected);
          expect(order).toEqual(['session/list', first]);
          c.dispose();
        } finally {
          release();
          await d.stop();
          await d.cleanup();
          rmSync(gate, { recursive: true, force: true });
        }
      }
    },
    60_000,
  );
});

describe('where the sandbox cannot run', () => {
  let d: TestDaemon;
  let bin: string;
  beforeAll(async () => {
    // A PATH with everything the sandbox needs except bubblewrap.
    bin = mkdtempSync(path.join(os.tmpdir(), 'sbx-path-'));
    for (const p of ['unshare', 'setpriv', 'prlimit', 'getfattr', 'setfattr', 'mknod', 'git', 'sh']) {
      const at = findProgram(p);
      if (at) symlinkSync(at, path.join(bin, p));
    }
    d = await startSandboxDaemon('self', { PATH: bin });
  }, 60_000);
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
  });

  it('exec says what is missing and how to enable it (exit 69); status says the same; shell is not offered', async () => {
    const ws = mkdtempSync(path.join(os.tmpdir(), 'sbx-ws-'));
    mkdirSync(path.join(ws, 'src'));
    const r = await runCliAs('self', ['exec', '--', 'true'], d.env, { cwd: ws }).done;
    expect(r.code).toBe(69);
    expect(r.stderr).toContain('the host command sandbox cannot run on this machine');
    expect(r.stderr).toContain('bwrap is not installed: `sudo apt-get install bubblewrap`');
    const s = await runCliAs('self', ['status'], d.env, { cwd: '/' }).done;
    expect(s.stdout).toMatch(/shell\s+not available/);
    expect(s.stdout).toContain('apt-get install bubblewrap');
    const c = await d.connect();
    expect((await c.request(ToolsList, {})).tools.map((t) => t.name)).not.toContain('shell');
    c.dispose();
  }, 60_000);
});

describe('a state dir inside the workspace', () => {
  it('is invisible to commands (and unwritable)', async (ctx) => {
    const ws = makeProject('self', { 'a.txt': 'A\n' });
    const stateDir = path.join(ws, '.shadowbox-state');
    mkdirSync(stateDir, { mode: 0o700 });
    const { startTestDaemon } = await import('../helpers/daemon.js');
    const d = await startTestDaemon({ stateDir, web: false });
    try {
      const a = await shellAvailable(d);
      if (!a.ok) {
        console.log(`skipped: the host sandbox cannot run here (${a.why})`);
        return ctx.skip();
      }
      // A bound below the test's, so a run that never ends fails with the CLI's output and the daemon's log
      // (it hung once in a full loaded run and never alone: this says where, next time).
      const r = await runCliAs(
        'self',
        ['exec', '--', 'sh', '-c', 'ls -a; ls .shadowbox-state; echo x > .shadowbox-state/pwn'],
        d.env,
        { cwd: ws, timeoutMs: 60_000 },
      ).done.catch((e: unknown) => {
        throw new Error(`${(e as Error).message}\n--- daemon log (tail) ---\n${d.stderr().slice(-4000)}`);
      });
      expect(r.stdout).not.toContain('.shadowbox-state');
      expect(r.stderr).toContain('.shadowbox-state');
      expect(existsSync(path.join(stateDir, 'pwn'))).toBe(false);
    } finally {
      await d.stop();
      await d.cleanup();
    }
  }, 120_000);
});
