import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWasiRuntime, findWasmtime } from './index.js';
import { createOverlayView, fixture } from './test-support.js';
import { wasmtimeArgs } from './wasmtime-runner.js';

// 30 s of wall time: the runs that must end by themselves (a stand-in shell script, or wasmtime's start and compile of
// a module on a loaded machine) are never near it; the time-limit test sets its own 300 ms.
const LIMITS = { wallMs: 30_000, memoryBytes: 32 << 20, stdoutBytes: 1 << 16, stderrBytes: 1 << 16 };
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');
const wasmtime = findWasmtime();

describe('wasmtime runner: selection and spawning', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sbx-wasmtime-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('builds a command line with limits, preopens and exactly the granted env', () => {
    expect(
      wasmtimeArgs({
        modulePath: '/m.wasm',
        dirs: [['/h/ws', '/workspace']],
        env: { A: '1' },
        memoryBytes: 1048576,
        wallMs: 500,
        argv: ['tool', '-x'],
      }),
    ).toEqual([
      'run',
      '-W',
      'max-memory-size=1048576',
      '-W',
      'timeout=500ms',
      '--dir',
      '/h/ws::/workspace',
      '--env',
      'A=1',
      '--argv0',
      'tool',
      '/m.wasm',
      '-x',
    ]);
  });

  it('fails fast for netFetch (before looking for the binary) and when wasmtime is missing', async () => {
    const rt = createWasiRuntime({ wasmtimePath: null });
    const req = {
      module: { bytes: await fixture('probe') },
      mounts: {},
      argv: ['p'],
      limits: LIMITS,
      runner: 'wasmtime' as const,
    };
    await expect(rt.run({ ...req, netFetch: { allowed: true, rules: [] } })).rejects.toMatchObject({
      data: { reason: 'netfetch_requires_inprocess' },
    });
    await expect(rt.run(req)).rejects.toMatchObject({ data: { reason: 'wasmtime_not_found' } });
    await rt.close();
  });

  it('spawns with no inherited env, stdin, a workspace copy, and applies its changes to the view', async () => {
    // A stand-in binary: records its argv/env, echoes stdin, edits the workspace copy it was given.
    const fake = join(dir, 'fake-wasmtime');
    const log = join(dir, 'log.txt');
    await writeFile(
      fake,
      `#!/bin/sh\nenv > ${log}.env\necho "$@" > ${log}\nfor a in "$@"; do case "$a" in *::/workspace) ws="\${a%::/workspace}";; esac; done\ncat "$ws/a.txt" > "$ws/copy.txt"\nrm "$ws/gone.txt"\ncat\n`,
    );
    await chmod(fake, 0o755);
    const ws = join(dir, 'ws');
    await (await import('node:fs/promises')).mkdir(ws);
    await writeFile(join(ws, 'a.txt'), 'A');
    await writeFile(join(ws, 'gone.txt'), 'G');
    const view = createOverlayView(ws);
    const rt = createWasiRuntime({ wasmtimePath: fake });
    const r = await rt.run({
      module: { bytes: await fixture('probe') },
      mounts: { workspace: view, tmp: true },
      argv: ['probe', 'x'],
      env: { K: 'v' },
      stdin: Buffer.from('in'),
      limits: LIMITS,
      runner: 'wasmtime',
    });
    await rt.close();
    expect(r).toMatchObject({ runner: 'wasmtime', outcome: 'exited', exitCode: 0 });
    expect(text(r.stdout)).toBe('in');
    expect(r.changed.sort()).toEqual(['copy.txt', 'gone.txt']);
    expect(text(view.overlay.get('copy.txt') ?? new Uint8Array())).toBe('A');
    expect(view.overlay.get('gone.txt')).toBeNull();
    expect(await readFile(join(ws, 'gone.txt'), 'utf8')).toBe('G');
    const argv = await readFile(log, 'utf8');
    expect(argv).toContain('--env K=v');
    expect(argv).toMatch(/max-memory-size=33554432/);
    const env = (await readFile(`${log}.env`, 'utf8'))
      .split('\n')
      .filter((l) => l && !/^(PWD|SHLVL|_|OLDPWD)=/.test(l));
    expect(env).toEqual([]);
  });

  it("a guest's stderr naming an interrupt or a trap is not wasmtime's verdict: only wasmtime's own error and exit", async () => {
    // A stand-in that writes to its workspace copy, prints `stderr` and exits with `code`.
    const fakeWith = async (name: string, stderr: string, code: number) => {
      const fake = join(dir, name);
      await writeFile(
        fake,
        `#!/bin/sh\nfor a in "$@"; do case "$a" in *::/workspace) ws="\${a%::/workspace}";; esac; done\necho out > "$ws/made.txt"\nprintf '${stderr}' >&2\nexit ${code}\n`,
      );
      await chmod(fake, 0o755);
      return fake;
    };
    const runWith = async (fake: string) => {
      const ws = join(dir, `ws-${basename(fake)}`);
      await (await import('node:fs/promises')).mkdir(ws);
      const view = createOverlayView(ws);
      const rt = createWasiRuntime({ wasmtimePath: fake });
      const r = await rt.run({
        module: { bytes: await fixture('probe') },
        mounts: { workspace: view, tmp: true },
        argv: ['probe'],
        limits: LIMITS,
        runner: 'wasmtime',
      });
      await rt.close();
      return r;
    };
    // Python's report of a KeyboardInterrupt it raised itself, and a program that prints "wasm trap": exit 1.
    const kbd = await runWith(
      await fakeWith('kbd', 'Traceback (most recent call last):\\nKeyboardInterrupt: interrupt\\n', 1),
    );
    expect(kbd).toMatchObject({ outcome: 'exited', exitCode: 1, changed: ['made.txt'] });
    const said = await runWith(await fakeWith('said', 'a wasm trap: interrupt, said the guest\\n', 0));
    expect(said).toMatchObject({ outcome: 'exited', exitCode: 0, changed: ['made.txt'] });
    // wasmtime's own error for its -W timeout: a trap `interrupt`, exit 134. Nothing of the run is applied.
    const timedOut = await runWith(
      await fakeWith(
        'timeout',
        'Error: failed to run main module `probe.wasm`\\n\\nCaused by:\\n    0: failed to invoke command default\\n    1: wasm trap: interrupt\\n',
        134,
      ),
    );
    expect(timedOut).toMatchObject({ outcome: 'timeout', exitCode: null, changed: [] });
  });
});

if (!wasmtime) {
  console.warn(
    '\n*** wasmtime runner: SKIPPING real-wasmtime tests: no wasmtime binary on PATH or in SHADOWBOX_WASMTIME ***\n',
  );
}

describe.skipIf(!wasmtime)('wasmtime runner with a real wasmtime', () => {
  const rt = createWasiRuntime({ wasmtimePath: wasmtime });
  afterAll(() => rt.close());
  const run = async (argv: string[], limits = LIMITS) =>
    rt.run({
      module: { bytes: await fixture('probe') },
      mounts: { tmp: true },
      argv: ['probe', ...argv],
      limits,
      runner: 'wasmtime',
    });

  it('runs, caps memory and time', async () => {
    expect(text((await run(['echo', 'hi'])).stdout)).toBe('hi\n');
    expect((await run(['membomb'])).exitCode).toBe(3);
    expect((await run(['loop'], { ...LIMITS, wallMs: 300 })).outcome).toBe('timeout');
    expect((await run(['trap'])).outcome).toBe('trap');
  });
});
