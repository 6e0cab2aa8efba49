// launch(): how a run's end is told from its status pipe. The launcher chain (setpriv → unshare → prlimit → bubblewrap)
// is one process (each step execs the next); a stand-in for its first program plays bubblewrap's part here, so that
// the time between the command's end and the launcher's own exit is the test's to set, not the machine's.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { launch, type LaunchSpec } from './launch.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'shadowbox-launch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A launcher that reports what bubblewrap reports on fd 3 (the child started, then its exit code), after `body`. */
function standIn(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}

function spec(setpriv: string, timeoutMs: number): LaunchSpec {
  return {
    command: 'true',
    lowerDirs: [dir],
    upper: null,
    merged: dir,
    bwrap: [],
    prlimit: [],
    programs: {
      bwrap: '/usr/bin/false',
      unshare: '/usr/bin/false',
      setpriv,
      prlimit: '/usr/bin/false',
      getfattr: '/usr/bin/false',
      setfattr: '/usr/bin/false',
      mknod: '/usr/bin/false',
    },
    socat: null,
    cgroup: null,
    timeoutMs,
    maxOutputBytes: 1 << 20,
    signal: new AbortController().signal,
  };
}

describe('launch', () => {
  // The stand-in reports exit code 3, makes a marker file, then waits to be killed: the test fires the deadline (or
  // cancels) only once the marker is there, so the exit code is in the status pipe before the kill on any machine.
  const endedThenWaits = (marker: string) =>
    standIn(
      `ended-${path.basename(marker)}`,
      `printf '{ "child-pid": 2 }\\n' >&3\necho done\nprintf '{ "exit-code": 3 }\\n' >&3\n: > '${marker}'\nexec sleep 1000`,
    );
  const until = async (file: string) => {
    while (!existsSync(file)) await new Promise((r) => setImmediate(r));
  };

  it('a command that ended (its exit code reported) before the deadline is not reported as timed out', async () => {
    // bubblewrap writes the command's exit code on fd 3 once the command has ended, then exits; its exit (the mount
    // namespace with the overlay and /tmp torn down) and the daemon's reading of it can come after the deadline on a
    // loaded machine. Only launch's deadline timer is faked: it fires when the test says.
    const marker = path.join(dir, 'timeout.marker');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const running = launch(spec(endedThenWaits(marker), 60_000));
      await until(marker);
      vi.advanceTimersByTime(60_000);
      const r = await running;
      expect(r.stdout).toBe('done\n');
      expect(r).toMatchObject({ exitCode: 3, timedOut: false, cancelled: false });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a command that ended before a cancel is not reported as cancelled', async () => {
    const marker = path.join(dir, 'cancel.marker');
    const ac = new AbortController();
    const running = launch({ ...spec(endedThenWaits(marker), 60_000), signal: ac.signal });
    await until(marker);
    ac.abort();
    const r = await running;
    expect(r).toMatchObject({ exitCode: 3, timedOut: false, cancelled: false });
  });

  // The stand-in holds its setup (no child-pid yet) until the test creates `go`, then runs the command's part.
  // It gives up when the test's folder is gone (a failed test never creates `go`).
  const slowSetup = (name: string, go: string, after: string) =>
    standIn(
      name,
      `while [ ! -e '${go}' ]; do [ -d '${dir}' ] || exit 1; sleep 0.01; done\nprintf '{ "child-pid": 2 }\\n' >&3\n${after}`,
    );

  it("the time limit counts from the command's start: a slow setup does not use it up", async () => {
    // Before, the deadline ran from the spawn, so a sandbox that took longer to set up than the limit (bubblewrap and
    // the overlay on a loaded machine) killed a command that had barely run. Only launch's timers are faked.
    const go = path.join(dir, 'setup.go');
    const done = path.join(dir, 'setup.done');
    const setpriv = slowSetup('slow-setup', go, `echo ran\nprintf '{ "exit-code": 0 }\\n' >&3\n: > '${done}'`);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const running = launch(spec(setpriv, 1000));
      vi.advanceTimersByTime(5000); // five times the command's limit, spent in setup
      writeFileSync(go, '');
      await Promise.race([until(done), running]); // before, the run was already over: killed in its setup
      const r = await running;
      expect(r).toMatchObject({ exitCode: 0, timedOut: false, cancelled: false, stdout: 'ran\n' });
      expect(r.setupError).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });

  it('after a slow setup, the command still has exactly its limit', async () => {
    const go = path.join(dir, 'setup2.go');
    const started = path.join(dir, 'setup2.started');
    const setpriv = slowSetup('slow-setup-then-hang', go, `: > '${started}'\nexec sleep 1000`);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const timers = vi.spyOn(globalThis, 'setTimeout');
    try {
      let settled = false;
      const running = launch(spec(setpriv, 1000)).finally(() => (settled = true));
      expect(timers.mock.calls.map((c) => c[1])).toEqual([30_000]); // the setup's limit: max(1 s, 30 s)
      vi.advanceTimersByTime(5000);
      writeFileSync(go, '');
      await until(started);
      // The command's deadline is set when launch reads child-pid from the status pipe, which can come after the
      // marker: wait for it.
      while (timers.mock.calls.length < 2) await new Promise((r) => setImmediate(r));
      expect(timers.mock.calls[1]?.[1]).toBe(1000);
      vi.advanceTimersByTime(999);
      await new Promise((r) => setImmediate(r));
      expect(settled).toBe(false);
      vi.advanceTimersByTime(1);
      const r = await running;
      expect(r).toMatchObject({ exitCode: null, timedOut: true, cancelled: false });
      expect(r.setupError).toBeUndefined();
    } finally {
      timers.mockRestore();
      vi.useRealTimers();
    }
  });

  it('a setup that never ends is stopped at its own limit and reported as a setup error', async () => {
    const setpriv = standIn('setup-hangs', 'echo mounting >&2\nexec sleep 1000');
    const r = await launch({ ...spec(setpriv, 200), setupTimeoutMs: 300 });
    expect(r).toMatchObject({ exitCode: null, timedOut: false, cancelled: false });
    // What the setup wrote is added when it was read before the kill (not waited for: the limit is real time here).
    expect(r.setupError).toMatch(/^the sandbox was not set up within 0\.3 s(: mounting)?$/);
  });

  it('a command still running at the deadline is timed out (no exit code)', async () => {
    const setpriv = standIn('slow-command', `printf '{ "child-pid": 2 }\\n' >&3\nexec sleep 5`);
    const r = await launch(spec(setpriv, 300));
    expect(r).toMatchObject({ exitCode: null, timedOut: true, cancelled: false });
    expect(r.setupError).toBeUndefined();
  });
});
