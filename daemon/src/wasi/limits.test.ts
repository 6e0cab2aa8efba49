import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWasiRuntime, TRUNCATION_MARKER, type WasiRunRequest } from './index.js';
import { fixture } from './test-support.js';

const LIMITS = { wallMs: 5000, memoryBytes: 32 * 1024 * 1024, stdoutBytes: 1 << 20, stderrBytes: 1 << 20 };
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

// Hostile modules end with a typed outcome; the runtime keeps serving other runs afterwards.
describe('limits and hostile modules', () => {
  const runtime = createWasiRuntime({ poolSize: 2 });
  let probe: Uint8Array;
  beforeAll(async () => {
    probe = await fixture('probe');
  });
  afterAll(() => runtime.close());
  const run = (argv: string[], extra: Partial<WasiRunRequest> = {}) =>
    runtime.run({
      module: { bytes: probe },
      mounts: { tmp: true },
      argv: ['probe', ...argv],
      limits: LIMITS,
      ...extra,
    });

  it('terminates an infinite loop at the wall-time limit', async () => {
    const r = await run(['loop'], { limits: { ...LIMITS, wallMs: 300 } });
    expect(r.outcome).toBe('timeout');
    expect(r.exitCode).toBeNull();
  });

  it('makes malloc fail inside the module at the memory cap', async () => {
    const r = await run(['membomb']);
    expect(r.exitCode).toBe(3);
    expect(r.outcome).toBe('memory_limit');
    const mib = Number(/after (\d+) MiB/.exec(text(r.stdout))?.[1]);
    expect(mib).toBeGreaterThan(10);
    expect(mib).toBeLessThan(32);
  });

  it('refuses memory.grow past the cap (the declared maximum was rewritten)', async () => {
    const r = await run(['grow'], { limits: { ...LIMITS, memoryBytes: 8 * 1024 * 1024 } });
    expect(r.exitCode).toBe(4);
    expect(r.outcome).toBe('memory_limit');
    const pages = Number(/after (\d+) pages/.exec(text(r.stdout))?.[1]);
    expect(pages).toBeLessThanOrEqual(128);
  });

  it('refuses to start a module whose initial memory exceeds the cap', async () => {
    await expect(run(['echo'], { limits: { ...LIMITS, memoryBytes: 64 * 1024 } })).rejects.toMatchObject({
      data: { reason: 'memory_limit' },
    });
  });

  it('cuts an output flood at the cap with a marker', async () => {
    const r = await run(['flood'], { limits: { ...LIMITS, stdoutBytes: 10_000 } });
    expect(r.outcome).toBe('output_limit');
    expect(r.stdoutTruncated).toBe(true);
    expect(r.stdout.byteLength).toBe(10_000 + Buffer.byteLength(TRUNCATION_MARKER));
    expect(text(r.stdout).endsWith(TRUNCATION_MARKER)).toBe(true);
    const e = await run(['flooderr'], { limits: { ...LIMITS, stderrBytes: 5000 } });
    expect(e.outcome).toBe('output_limit');
    expect(e.stderrTruncated).toBe(true);
    expect(e.stdoutTruncated).toBe(false);
  });

  it('bounds file growth in /tmp with ENOSPC (file data lives outside the guest memory cap)', async () => {
    const r = await run(['fill', '/tmp/big'], { limits: { ...LIMITS, fsBytes: 8 << 20 } });
    expect(r.exitCode).toBe(5);
    expect(text(r.stdout)).toMatch(/^wrote [78] MiB: No space left on device/);
  });

  it('reports deep recursion and explicit traps as traps', async () => {
    const deep = await run(['recurse']);
    expect(deep.outcome).toBe('trap');
    expect(deep.trapMessage).toBeTruthy();
    const t = await run(['trap']);
    expect(t.outcome).toBe('trap');
    expect(t.trapMessage).toMatch(/unreachable/);
  });

  it('cancels a run through its AbortSignal', async () => {
    const ac = new AbortController();
    const p = run(['loop'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    expect((await p).outcome).toBe('cancelled');
  });

  it('keeps serving after hostile runs, with no state shared between runs', async () => {
    for (let i = 0; i < 3; i++) {
      const r = await run(['state']);
      expect(text(r.stdout)).toBe('counter=1 leaked=0\n');
    }
  });

  it('runs concurrent invocations independently', async () => {
    const rs = await Promise.all([...Array(6).keys()].map((i) => run(['echo', `run-${i}`])));
    expect(rs.map((r) => text(r.stdout))).toEqual([...Array(6).keys()].map((i) => `run-${i}\n`));
    const [slow, fast] = await Promise.all([
      run(['loop'], { limits: { ...LIMITS, wallMs: 500 } }),
      run(['echo', 'fast']),
    ]);
    expect(slow.outcome).toBe('timeout');
    expect(text(fast.stdout)).toBe('fast\n');
  });

  it('rejects invalid limits and mount points as setup errors', async () => {
    await expect(run(['echo'], { limits: { ...LIMITS, wallMs: 0 } })).rejects.toMatchObject({
      data: { reason: 'invalid_limits' },
    });
    for (const at of ['relative', '/a/../b', '/a/', '/tmp']) {
      await expect(
        run(['echo'], { mounts: { tmp: true, readOnly: [{ at, files: new Map() }] } }),
      ).rejects.toMatchObject({ data: { reason: 'invalid_mount' } });
    }
    await expect(run(['echo'], { mounts: { tmp: true }, cwd: '/nowhere' })).rejects.toMatchObject({
      data: { reason: 'invalid_cwd' },
    });
    await expect(
      runtime.run({ module: { bytes: Buffer.from('nope') }, mounts: {}, argv: ['x'], limits: LIMITS }),
    ).rejects.toMatchObject({ data: { reason: 'invalid_module' } });
  });
});

describe('worker reuse (maxRunsPerWorker > 1)', () => {
  const runtime = createWasiRuntime({ poolSize: 1, maxRunsPerWorker: 20 });
  afterAll(() => runtime.close());

  it('shares no guest state between runs served by one worker, also after traps and output floods', async () => {
    const probe = await fixture('probe');
    const run = (argv: string[]) =>
      runtime.run({
        module: { bytes: probe },
        mounts: { tmp: true },
        argv: ['probe', ...argv],
        limits: { ...LIMITS, stdoutBytes: 1000 },
      });
    for (const hostile of [['trap'], ['flood'], ['recurse'], ['membomb'], ['state']]) {
      await run(hostile);
      const r = await run(['state']);
      expect(text(r.stdout)).toBe('counter=1 leaked=0\n');
    }
  });
});
