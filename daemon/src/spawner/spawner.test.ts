import { execFileSync, fork, spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { spawnDirect } from './direct.js';
import { isSpawnerReply, isSpawnerRequest } from './ipc.js';
import { createSpawner, spawnerEntry } from './spawner.js';
import { SpawnError, type ProgramExit, type Spawner } from './types.js';

const SH = '/bin/sh';
let spawners: Spawner[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(spawners.map((s) => s.close()));
  spawners = [];
});

/** A spawner whose process is up (its first run starts it and runs directly). */
async function readySpawner(logger?: { warn(msg: string): void }): Promise<Spawner> {
  const s = createSpawner(logger ? { logger } : {});
  spawners.push(s);
  s.warm();
  await expect.poll(() => s.state()).toBe('ready');
  return s;
}

/** Runs a program, collecting its stdout. */
async function output(s: Spawner, file: string, args: string[]): Promise<{ out: Buffer; exit: ProgramExit }> {
  const chunks: Buffer[] = [];
  const p = s.spawn(file, args, { cwd: '/', onStdout: (c) => chunks.push(c) });
  const exit = await p.exited;
  return { out: Buffer.concat(chunks), exit };
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(statusOf(pid));
/** Gone and waited for by its parent (no zombie left): Node emits a child's 'exit' in the turn it reaps it. */
const reaped = (pid: number) => !existsSync(`/proc/${pid}`);
/** Waits for a condition on real timers, while fake ones are installed (expect.poll would move those on as it waits). */
const untilReal = async (cond: () => boolean) => {
  while (!cond()) await sleep(10);
};
const statusOf = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return '';
  }
};
/** The pids of this process's children running `node` (the spawner processes). */
function childNodes(): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([pid, comm]) => pid && comm === 'node')
    .map(([pid]) => Number(pid));
}

describe('the spawner process', () => {
  it('starts a program and the daemon reads its whole output from the handed-over pipe', async () => {
    const s = await readySpawner();
    // 3 MB: many more bytes than a socket buffer holds while the handle is on its way.
    const script = 'head -c 3000000 /dev/zero | tr "\\0" a; echo; echo end; exit 3';
    const { out, exit } = await output(s, SH, ['-c', script]);
    expect(s.state()).toBe('ready');
    expect(exit).toEqual({ code: 3, signal: null });
    expect(out.length).toBe(3_000_005);
    expect(out.subarray(-5).toString()).toBe('\nend\n');
    // The same from a direct spawn.
    const direct = await output(createSpawner({ mode: 'direct' }), SH, ['-c', script]);
    expect(direct.out.equals(out)).toBe(true);
    expect(direct.exit).toEqual(exit);
  });

  it('loses no output of a program that writes at once (the pipe is not read in the spawner)', async () => {
    const s = await readySpawner();
    // echo writes as soon as it runs, while the pipe's handle may still be on its way to the daemon.
    const outs = await Promise.all(Array.from({ length: 200 }, (_, i) => output(s, '/bin/echo', [`line ${i}`])));
    expect(outs.map((o) => o.out.toString())).toEqual(Array.from({ length: 200 }, (_, i) => `line ${i}\n`));
  });

  it('reads stdout, stderr and fd 3 each to its end: large output on all three, every byte in order', async () => {
    const s = await readySpawner();
    // ~2 MB on each descriptor, written interleaved, many socket buffers' worth while the handles are on their way.
    const script = 'seq 1 300000 & seq 1 300000 >&2 & seq 1 300000 >&3 & wait; echo end; echo end >&2; echo end >&3';
    const expected = `${Array.from({ length: 300000 }, (_, i) => i + 1).join('\n')}\nend\n`;
    for (const sp of [s, createSpawner({ mode: 'direct' })]) {
      const got = { 1: [] as Buffer[], 2: [] as Buffer[], 3: [] as Buffer[] };
      const p = sp.spawn(SH, ['-c', script], {
        cwd: '/',
        onStdout: (c) => got[1].push(c),
        onStderr: (c) => got[2].push(c),
        onFd3: (c) => got[3].push(c),
      });
      await expect(p.exited).resolves.toEqual({ code: 0, signal: null });
      for (const fd of [1, 2, 3] as const) expect(Buffer.concat(got[fd]).toString()).toBe(expected);
    }
  });

  it('loses nothing a program writes at once to stderr and fd 3, while their handles are on their way', async () => {
    const s = await readySpawner();
    const runs = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const got = { out: '', err: '', fd3: '' };
        const p = s.spawn(SH, ['-c', `echo o${i}; echo e${i} >&2; echo s${i} >&3`], {
          cwd: '/',
          onStdout: (c) => (got.out += c.toString()),
          onStderr: (c) => (got.err += c.toString()),
          onFd3: (c) => (got.fd3 += c.toString()),
        });
        await p.exited;
        return got;
      }),
    );
    expect(runs).toEqual(Array.from({ length: 100 }, (_, i) => ({ out: `o${i}\n`, err: `e${i}\n`, fd3: `s${i}\n` })));
  });

  it('settles only once every pipe is read to its end, also when a background process still writes after the exit', async () => {
    const s = await readySpawner();
    for (const sp of [s, createSpawner({ mode: 'direct' })]) {
      let err = '';
      const p = sp.spawn(SH, ['-c', '(sleep 0.2; echo late >&2) & exit 4'], {
        cwd: '/',
        onStderr: (c) => (err += c.toString()),
      });
      await expect(p.exited).resolves.toEqual({ code: 4, signal: null });
      expect(err).toBe('late\n');
    }
  });

  it('gives a program the environment it is given, else the daemon’s; refuses a malformed one (EINVAL) in both paths', async () => {
    const s = await readySpawner();
    for (const sp of [s, createSpawner({ mode: 'direct' })]) {
      const out = (env?: Record<string, string>) => {
        const chunks: Buffer[] = [];
        const p = sp.spawn(SH, ['-c', 'echo "${SBX_A-unset}|${HOME-unset}|$PATH"'], {
          cwd: '/',
          ...(env ? { env } : {}),
          onStdout: (c) => chunks.push(c),
        });
        return p.exited.then(() => Buffer.concat(chunks).toString());
      };
      await expect(out({ SBX_A: 'a b', PATH: '/usr/bin:/bin' })).resolves.toBe('a b|unset|/usr/bin:/bin\n');
      await expect(out()).resolves.toBe(`unset|${process.env.HOME ?? 'unset'}|${process.env.PATH ?? ''}\n`);
      const bads: Record<string, string>[] = [
        { SBX_A: 'a\0b' },
        { 'SBX_A=B': 'x' },
        { '': 'x' },
        { SBX_A: 1 as unknown as string },
      ];
      for (const bad of bads) {
        const e = await sp.spawn('/bin/true', [], { cwd: '/', env: bad }).exited.catch((x: unknown) => x);
        expect(e).toBeInstanceOf(SpawnError);
        expect((e as SpawnError).code).toBe('EINVAL');
      }
    }
    expect(s.state()).toBe('ready');
  });

  it('runs in the given folder; without onStdout the output goes nowhere', async () => {
    const s = await readySpawner();
    const chunks: Buffer[] = [];
    const p = s.spawn(SH, ['-c', 'pwd'], { cwd: '/tmp', onStdout: (c) => chunks.push(c) });
    await p.exited;
    expect(Buffer.concat(chunks).toString()).toBe('/tmp\n');
    await expect(s.spawn(SH, ['-c', 'echo x'], { cwd: '/' }).exited).resolves.toEqual({ code: 0, signal: null });
  });

  it('reports a program that cannot start as the errno Node would give (ENOENT, E2BIG), as a direct spawn does', async () => {
    const s = await readySpawner();
    const direct = createSpawner({ mode: 'direct' });
    for (const sp of [s, direct]) {
      const missing = await output(sp, '/nonexistent/program', []).catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(SpawnError);
      expect((missing as SpawnError).code).toBe('ENOENT');
      // ~3 MiB of arguments: past the kernel's limit (ARG_MAX, 2 MiB with the default stack).
      const many = Array.from({ length: 3000 }, (_, i) => `${i}`.padEnd(1000, 'x'));
      const big = await output(sp, '/bin/true', many).catch((e: unknown) => e);
      expect(big).toBeInstanceOf(SpawnError);
      expect((big as SpawnError).code).toBe('E2BIG');
    }
    expect(s.state()).toBe('ready'); // a refused program is no death of the spawner
  });

  it('refuses a request the spawner process would not act on (relative path, NUL) at once, instead of leaving it unanswered', async () => {
    const s = await readySpawner();
    for (const [file, args] of [
      ['echo', ['x']],
      ['/bin/echo', ['a\0b']],
    ] as const) {
      const e = await output(s, file, [...args]).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(SpawnError);
      expect((e as SpawnError).code).toBe('EINVAL');
    }
  });

  it('kills a program on request', async () => {
    const s = await readySpawner();
    const p = s.spawn(SH, ['-c', 'echo started; exec sleep 60'], { cwd: '/', onStdout: () => p.kill('SIGKILL') });
    await expect(p.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('runs directly until its process is ready, then through it', async () => {
    const s = createSpawner();
    spawners.push(s);
    expect(s.state()).toBe('stopped');
    const first = await output(s, SH, ['-c', 'echo $PPID']);
    expect(Number(first.out.toString())).toBe(process.pid); // direct: the program's parent is this process
    await expect.poll(() => s.state()).toBe('ready');
    const later = await output(s, SH, ['-c', 'echo $PPID']);
    expect(childNodes()).toContain(Number(later.out.toString())); // its parent is the spawner process
  });

  it('a first need starts its process once that run has ended, not beside it', async () => {
    const s = createSpawner();
    spawners.push(s);
    const run = s.spawn(SH, ['-c', 'exec sleep 60'], { cwd: '/' });
    // While the run is out, no Node process starts beside it ('stopped': there is none; a start would show at once).
    await new Promise((r) => setImmediate(r));
    expect(s.state()).toBe('stopped');
    run.kill('SIGKILL');
    await run.exited;
    await expect.poll(() => s.state()).toBe('ready');
  });

  it("a run that comes while the first need's run is still out starts the process at once", async () => {
    const s = createSpawner();
    spawners.push(s);
    const run = s.spawn(SH, ['-c', 'exec sleep 60'], { cwd: '/' });
    const second = s.spawn(SH, ['-c', 'exec sleep 60'], { cwd: '/' });
    expect(s.state()).not.toBe('stopped');
    await expect.poll(() => s.state()).toBe('ready');
    for (const r of [run, second]) r.kill('SIGKILL');
    await Promise.all([run.exited, second.exited]);
  });

  it('when its process dies: the runs it had fail (spawner_exited), the next run starts it again; after 3 deaths runs stay direct', async () => {
    const warned: string[] = [];
    const s = await readySpawner({ warn: (m) => warned.push(m) });
    for (let death = 1; death <= 3; death++) {
      if (death > 1) {
        expect(s.state()).toBe('stopped');
        await output(s, '/bin/true', []); // direct, and starts the process again
        await expect.poll(() => s.state()).toBe('ready');
      }
      let pids: number[] = [];
      const p = s.spawn(SH, ['-c', 'echo $$ $PPID; exec sleep 60'], {
        cwd: '/',
        onStdout: (c) => (pids = c.toString().trim().split(' ').map(Number)),
      });
      const failed = p.exited.catch((e: unknown) => e);
      await expect.poll(() => pids.length).toBe(2);
      expect(childNodes()).toContain(pids[1]); // the program's parent: the spawner process
      process.kill(pids[1], 'SIGKILL');
      const e = await failed;
      expect(isShadowboxError(e, ErrorCodes.ToolFailed, 'spawner_exited')).toBe(true);
      // The program it had (now an orphan) is not the daemon's to kill by pid (the pid may be reused); it ends
      // when it next writes to the closed pipe, or here when the test kills it.
      process.kill(pids[0], 'SIGKILL');
    }
    expect(s.state()).toBe('direct');
    expect(warned).toHaveLength(3);
    expect(warned[2]).toMatch(/programs now start directly/);
    const { out } = await output(s, SH, ['-c', 'echo $PPID']);
    expect(Number(out.toString())).toBe(process.pid);
  });

  it('stops its process when idle, and starts it again on the next run', async () => {
    // The idle timer is faked: a 50 ms one could run out between the spawner getting ready and the run below (on a
    // loaded machine), which then started directly. It runs out when the test moves it on.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const s = createSpawner({ idleMs: 50 });
    spawners.push(s);
    s.warm();
    await untilReal(() => s.state() === 'ready');
    const { out } = await output(s, SH, ['-c', 'echo $PPID']);
    const spawnerPid = Number(out.toString());
    expect(childNodes()).toContain(spawnerPid);
    vi.advanceTimersByTime(49);
    expect(s.state()).toBe('ready');
    vi.advanceTimersByTime(1);
    vi.useRealTimers();
    await expect.poll(() => s.state()).toBe('stopped');
    await expect.poll(() => alive(spawnerPid)).toBe(false);
    await output(s, '/bin/true', []); // direct, and starts it again
    await expect.poll(() => s.state()).toBe('ready');
  });

  it("does not apply the daemon's NODE_OPTIONS to itself, and gives it back to the programs it starts", async () => {
    // Applied to the spawner, this --require would stop it at its start (it would never be ready).
    const NODE_OPTIONS = '--require /nonexistent/shadowbox-test-preload.cjs';
    const s = createSpawner({ env: { ...process.env, NODE_OPTIONS } });
    spawners.push(s);
    s.warm();
    await expect.poll(() => s.state()).toBe('ready');
    const { out } = await output(s, SH, ['-c', 'echo "$NODE_OPTIONS|${SHADOWBOX_SPAWNER_NODE_OPTIONS-unset}"']);
    expect(out.toString()).toBe(`${NODE_OPTIONS}|unset\n`);
  });

  it('takes a spawner that does not report a killed program’s exit for hung: killed, the run fails, the next run starts a new one', async () => {
    // A stand-in spawner that says it is ready and then answers nothing.
    const hung = path.join(mkdtempSync(path.join(os.tmpdir(), 'sb-hung-')), 'hung.cjs');
    writeFileSync(
      hung,
      "process.on('message', () => {}); process.on('disconnect', () => process.exit(0)); process.send({ t: 'ready' });\n",
    );
    const warned: string[] = [];
    const s = createSpawner({ entry: hung, killWaitMs: 100, logger: { warn: (m) => warned.push(m) } });
    spawners.push(s);
    s.warm();
    await expect.poll(() => s.state()).toBe('ready');
    const p = s.spawn('/bin/true', [], { cwd: '/' });
    const failed = p.exited.catch((e: unknown) => e);
    p.kill('SIGKILL');
    expect(isShadowboxError(await failed, ErrorCodes.ToolFailed, 'spawner_exited')).toBe(true);
    expect(warned[0]).toMatch(/did not report/);
    expect(s.state()).toBe('stopped');
    rmSync(path.dirname(hung), { recursive: true, force: true });
  });

  it('ends a killed program whose pipe a background process still holds with its exit, after the kill wait: the spawner and its other runs go on (both paths)', async () => {
    // Before the ping, the spawner path took the unsettled run for a hung spawner and killed it: both runs failed.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-held-'));
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const warned: string[] = [];
    const s = createSpawner({ killWaitMs: 100, logger: { warn: (m) => warned.push(m) } });
    spawners.push(s);
    s.warm();
    await expect.poll(() => s.state()).toBe('ready');
    for (const sp of [s, createSpawner({ mode: 'direct', killWaitMs: 100 })]) {
      let pids = '';
      const held = sp.spawn(SH, ['-c', 'sleep 60 & echo $! $$; exec sleep 60'], {
        cwd: '/',
        onStdout: (c) => (pids += c.toString()),
      });
      await expect.poll(() => pids.endsWith('\n')).toBe(true);
      const [background, program] = pids.trim().split(' ').map(Number);
      let out = '';
      const other = sp.spawn(SH, ['-c', `cat ${fifo}`], { cwd: '/', onStdout: (c) => (out += c.toString()) });
      // The kill wait is faked and moved on once the program has been reaped (by this process, or by the spawner,
      // whose exit report then comes before its answer to the ping): with a real 100 ms, a loaded machine could
      // reach the end of the wait before the exit was seen, and the run failed with program_not_ended.
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      held.kill('SIGKILL');
      await untilReal(() => reaped(program));
      vi.advanceTimersByTime(100);
      vi.useRealTimers();
      await expect(held.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });
      writeFileSync(fifo, 'still here\n'); // opens once `cat` has it open for reading
      await expect(other.exited).resolves.toEqual({ code: 0, signal: null });
      expect(out).toBe('still here\n');
      expect(alive(background)).toBe(true); // the pipe was held all along
      process.kill(background, 'SIGKILL');
    }
    expect(s.state()).toBe('ready');
    expect(warned).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('fails only the run of a killed program that has not ended while the spawner still answers (program_not_ended), and keeps the spawner', async () => {
    // A stand-in spawner that is ready and answers pings, but never reports the program's exit (as for a program in
    // uninterruptible sleep, which outlives SIGKILL).
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-pong-'));
    const entry = path.join(dir, 'pong.cjs');
    writeFileSync(
      entry,
      `require('fs').writeFileSync(${JSON.stringify(path.join(dir, 'pid'))}, String(process.pid));\n` +
        "process.on('message', (m) => { if (m && m.t === 'ping') process.send({ t: 'pong', id: m.id }); });\n" +
        "process.on('disconnect', () => process.exit(0)); process.send({ t: 'ready' });\n",
    );
    const warned: string[] = [];
    const s = createSpawner({ entry, killWaitMs: 100, logger: { warn: (m) => warned.push(m) } });
    spawners.push(s);
    s.warm();
    await expect.poll(() => s.state()).toBe('ready');
    const pid = Number(readFileSync(path.join(dir, 'pid'), 'utf8'));
    const p = s.spawn('/bin/true', [], { cwd: '/' });
    const failed = p.exited.catch((e: unknown) => e);
    p.kill('SIGKILL');
    p.kill('SIGKILL'); // one wait, one ping
    const e = await failed;
    expect(isShadowboxError(e, ErrorCodes.ToolFailed, 'program_not_ended')).toBe(true);
    // The seconds since the kill are rounded: 0 here, 1 or more on a machine slow enough to take half a second.
    expect((e as Error).message).toMatch(/^\/bin\/true, killed \d+ s ago, has not ended/);
    expect(warned).toEqual(['a killed program (/bin/true) has not ended: its run fails, the spawner goes on']);
    expect(s.state()).toBe('ready');
    expect(alive(pid)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads an answer to a ping already come in before the deadline decides: a daemon busy past it does not kill a spawner that answered', async () => {
    // Timers run before I/O in a turn of the event loop: after the daemon was busy past the ping's deadline, the
    // deadline's timer took the spawner for hung although its pong was waiting, unread, and killed it (all its runs
    // failed with spawner_exited). Here the daemon is kept busy (a blocking read handler) from before the stand-in
    // answers until after the deadline; the pong is in by then.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-busy-'));
    const [fifo, go, sent] = ['fifo', 'go', 'sent'].map((f) => path.join(dir, f));
    execFileSync('mkfifo', [fifo]);
    const entry = path.join(dir, 'pong.cjs');
    writeFileSync(
      entry,
      `const fs = require('fs'); const [fifo, go, sent] = ${JSON.stringify([fifo, go, sent])};\n` +
        "process.on('message', (m) => {\n" +
        "  if (!m || m.t !== 'ping') return;\n" +
        "  fs.writeFileSync(fifo, 'p');\n" +
        '  const t = setInterval(() => {\n' +
        '    if (!fs.existsSync(go)) return;\n' +
        '    clearInterval(t);\n' +
        "    process.send({ t: 'pong', id: m.id }, () => fs.writeFileSync(sent, ''));\n" +
        '  }, 5);\n' +
        '});\n' +
        "process.on('disconnect', () => process.exit(0)); process.send({ t: 'ready' });\n",
    );
    const wait = 100;
    const warned: string[] = [];
    const s = createSpawner({ entry, killWaitMs: wait, logger: { warn: (m) => warned.push(m) } });
    spawners.push(s);
    s.warm();
    await expect.poll(() => s.state()).toBe('ready');
    // Read when the stand-in gets the ping: busy until its pong is sent, then past the pong's deadline.
    const pinged = createReadStream(fifo);
    pinged.on('data', () => {
      const from = performance.now();
      writeFileSync(go, '');
      while (!existsSync(sent) && performance.now() - from < 20_000);
      while (performance.now() - from < 3 * wait);
    });
    const p = s.spawn('/bin/true', [], { cwd: '/' }); // the stand-in never reports its exit
    const failed = p.exited.catch((e: unknown) => e);
    p.kill('SIGKILL');
    const e = await failed;
    expect(existsSync(sent)).toBe(true);
    expect(isShadowboxError(e, ErrorCodes.ToolFailed, 'program_not_ended')).toBe(true);
    expect(s.state()).toBe('ready');
    expect(warned).toEqual(['a killed program (/bin/true) has not ended: its run fails, the spawner goes on']);
    pinged.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('on the direct path, a program killed while the daemon is busy past the kill wait ends with its exit, not as not ended', async () => {
    // Timers run before I/O in a turn of the event loop: the kill wait's timer ran before the program's exit (in by
    // then) was read, and failed the run with program_not_ended. Here the kill is sent from a handler that keeps the
    // daemon busy past the wait; the program is dead long before it returns.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-busy-'));
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const wait = 100;
    let pid = 0;
    const p = spawnDirect(SH, ['-c', 'echo $$; exec sleep 60'], { cwd: '/', onStdout: (c) => (pid = Number(c)) }, wait);
    await expect.poll(() => pid).toBeGreaterThan(0);
    const busy = createReadStream(fifo);
    busy.on('data', () => {
      const from = performance.now();
      p.kill('SIGKILL');
      while (alive(pid) && performance.now() - from < 20_000);
      while (performance.now() - from < 3 * wait);
    });
    const written = writeFile(fifo, 'k'); // opened by this process: not from its own thread
    await expect(p.exited).resolves.toEqual({ code: null, signal: 'SIGKILL' });
    await written;
    busy.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('on the direct path, a run failed as not ended lets go of its pipes: nothing more is read for it', async () => {
    // The spawner path's run closes its pipes as it fails (fail()); the direct path kept reading them: the output of
    // whatever still held them reached the caller after the run had settled (a shell call already answered), and the
    // pipes stayed open for as long as that lasted. Here a background `cat` holds stdout; its write after the run
    // failed must find no reader (SIGPIPE), not be read.
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-direct-'));
    const fifo = path.join(dir, 'fifo');
    const status = path.join(dir, 'status');
    execFileSync('mkfifo', [fifo]);
    let out = '';
    const p = spawnDirect(
      SH,
      ['-c', `(cat ${fifo}; echo $? > ${status}) & echo go; exec sleep 60`],
      {
        cwd: '/',
        onStdout: (c) => (out += c.toString()),
      },
      100,
    );
    const failed = p.exited.catch((e: unknown) => e);
    await expect.poll(() => out).toBe('go\n');
    // The kill wait ends (its timer, then what it defers to after I/O) before this process has seen the program's
    // exit: the run fails as not ended.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate'] });
    try {
      p.kill('SIGKILL');
      vi.advanceTimersByTime(100);
      vi.runOnlyPendingTimers();
    } finally {
      vi.useRealTimers();
    }
    expect(isShadowboxError(await failed, ErrorCodes.ToolFailed, 'program_not_ended')).toBe(true);
    writeFileSync(fifo, 'late\n'); // opens once `cat` has it open for reading
    await expect.poll(() => existsSync(status) && readFileSync(status, 'utf8')).toMatch(/^\d+\n$/);
    expect(readFileSync(status, 'utf8')).not.toBe('0\n'); // 141: killed by SIGPIPE, as no one reads the pipe
    expect(out).toBe('go\n');
    rmSync(dir, { recursive: true, force: true });
  });

  it('close() stops its process and kills what it still runs', async () => {
    const s = await readySpawner();
    const pids: number[] = [];
    const p = s.spawn(SH, ['-c', 'echo $$; exec sleep 60'], {
      cwd: '/',
      onStdout: (c) => pids.push(Number(c.toString())),
    });
    const settled = p.exited.catch((e: unknown) => e);
    await expect.poll(() => pids.length).toBe(1);
    await s.close();
    expect(isShadowboxError(await settled)).toBe(true);
    await expect.poll(() => alive(pids[0])).toBe(false);
    expect(s.state()).toBe('direct');
  });
});

describe('the spawner when the daemon dies (a real SIGKILL of its parent)', () => {
  it('kills the programs it runs and exits: no orphans', async () => {
    // A stand-in daemon: a Node process that forks the spawner, has it start `sleep 60`, prints both pids and waits.
    const daemon = `
      const { fork } = require('node:child_process');
      const sp = fork(${JSON.stringify(spawnerEntry())}, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
      sp.on('message', (m, handle) => {
        if (m.t === 'ready') sp.send({ t: 'spawn', id: 1, file: '/bin/sh', args: ['-c', 'echo $$; exec sleep 60'], cwd: '/', pipes: [1] });
        if (m.t === 'pipe') handle.once('data', (d) => console.log(JSON.stringify({ spawner: sp.pid, program: Number(d) })));
      });`;
    const parent = spawn(process.execPath, ['-e', daemon], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(String(d))));
    const pids = JSON.parse(line) as { spawner: number; program: number };
    expect(alive(pids.spawner) && alive(pids.program)).toBe(true);
    parent.kill('SIGKILL');
    await expect.poll(() => alive(pids.program)).toBe(false);
    await expect.poll(() => alive(pids.spawner)).toBe(false);
  });

  it('acts only on well-formed requests', async () => {
    const sp = fork(spawnerEntry(), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
    const replies: unknown[] = [];
    sp.on('message', (m) => replies.push(m));
    await expect.poll(() => replies.length).toBe(1);
    const marker = `/tmp/sb-spawner-${process.pid}-${Date.now()}`;
    const touch = { t: 'spawn', id: 1, file: '/bin/touch', args: [marker], cwd: '/', pipes: [] };
    for (const bad of [
      { ...touch, file: 'touch' }, // not an absolute path
      { ...touch, cwd: 'tmp' },
      { ...touch, args: [`${marker}\0x`] },
      { ...touch, id: -1 },
      { ...touch, t: 'exec' },
      { ...touch, pipes: [0] }, // stdin is never a pipe
      { ...touch, pipes: [2, 1] },
      { ...touch, pipes: [4] },
      { ...touch, env: { PATH: 1 } },
      { ...touch, env: { 'A=B': 'x' } },
      { ...touch, env: { A: 'x\0y' } },
      { t: 'kill', id: 1, signal: 'rm -rf' },
      'spawn /bin/touch',
    ])
      sp.send(bad);
    sp.send({ ...touch, id: 2, args: [`${marker}-ok`] });
    await expect.poll(() => replies.length).toBe(3); // ready, then started and exit of request 2 only
    expect(replies.slice(1).map((r) => (r as { id: number }).id)).toEqual([2, 2]);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(`${marker}-ok`)).toBe(true);
    execFileSync('rm', ['-f', `${marker}-ok`]);
    sp.disconnect();
  });
});

describe('the IPC messages are checked at both ends', () => {
  it('requests', () => {
    const ok = { t: 'spawn', id: 1, file: '/usr/bin/rg', args: ['--', 'a b'], cwd: '/w', pipes: [1, 2, 3] };
    expect(isSpawnerRequest(ok)).toBe(true);
    expect(isSpawnerRequest({ ...ok, pipes: [], env: { PATH: '/bin', EMPTY: '' } })).toBe(true);
    expect(isSpawnerRequest({ t: 'kill', id: 1, signal: 'SIGKILL' })).toBe(true);
    expect(isSpawnerRequest({ t: 'ping', id: 1 })).toBe(true);
    for (const bad of [
      null,
      [],
      { ...ok, id: 0 },
      { ...ok, id: 1.5 },
      { ...ok, args: [1] },
      { ...ok, args: 'x' },
      { ...ok, pipes: [1, 1] },
      { ...ok, pipes: 1 },
      { ...ok, env: [] },
      { ...ok, env: { '': 'x' } },
      { t: 'ping' },
      { t: 'ping', id: -1 },
    ])
      expect(isSpawnerRequest(bad)).toBe(false);
  });

  it('replies', () => {
    expect(isSpawnerReply({ t: 'ready' })).toBe(true);
    expect(isSpawnerReply({ t: 'started', id: 3, pid: 99, pipes: [1, 3] })).toBe(true);
    expect(isSpawnerReply({ t: 'pipe', id: 3, fd: 2 })).toBe(true);
    expect(isSpawnerReply({ t: 'exit', id: 3, code: null, signal: 'SIGKILL' })).toBe(true);
    expect(isSpawnerReply({ t: 'error', id: 3, code: 'E2BIG' })).toBe(true);
    expect(isSpawnerReply({ t: 'pong', id: 3 })).toBe(true);
    for (const bad of [
      { t: 'started', id: 3, pid: 0, pipes: [1] },
      { t: 'started', id: 3, pid: 9, stdout: true },
      { t: 'pipe', id: 3, fd: 0 },
      { t: 'exit', id: 3, code: 1.5, signal: null },
      { t: 'exit', id: 3, code: 0, signal: 'kill' },
      { t: 'error', id: 3, code: 'nope' },
      { t: 'other', id: 3 },
      { t: 'pong', id: '3' },
      'ready',
    ])
      expect(isSpawnerReply(bad)).toBe(false);
  });
});
