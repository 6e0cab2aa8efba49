// A worker that serves several runs hands one memory from instance to instance (worker/spare-memory.ts):
// no run may find what an earlier one left in it, and a memory a run grew is never handed on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWasiRuntime, type WasiRunResult } from './index.js';
import { fixture } from './test-support.js';

const LIMITS = { wallMs: 10_000, memoryBytes: 32 * 1024 * 1024, stdoutBytes: 1 << 20, stderrBytes: 1 << 20 };
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

describe('memory reused between runs of one worker', () => {
  // One worker: every run below is served by the same one (none of them times out or crashes).
  const runtime = createWasiRuntime({ poolSize: 1, maxRunsPerWorker: 50 });
  let probe: Uint8Array;
  beforeAll(async () => {
    probe = await fixture('probe');
  });
  afterAll(() => runtime.close());
  const run = (...argv: string[]): Promise<WasiRunResult> =>
    runtime.run({ module: { bytes: probe }, mounts: { tmp: true }, argv: ['probe', ...argv], limits: LIMITS });
  const pagesOf = (r: WasiRunResult): number => Number(/pages=(\d+)/.exec(text(r.stdout))?.[1]);

  it('zeroes it: a run finds nothing of what the run before left in static memory or on the heap', async () => {
    const initial = pagesOf(await run('scan'));
    expect(text((await run('secret')).stdout)).toBe(`pages=${initial}\n`);
    const after = await run('scan');
    // The memory was the secret run's (the reuse path is what is tested), and it holds none of it.
    expect(after.memoryReused).toBe(true);
    expect(text(after.stdout)).toBe(`pages=${initial} found=0\n`);
  });

  it('does so also after a trap, an output flood and a run that hit the memory cap', async () => {
    for (const hostile of [['trap'], ['flood'], ['membomb']]) {
      await run('secret');
      await run(...hostile);
      const r = await run('scan');
      expect(text(r.stdout)).toMatch(/ found=0\n$/);
      expect(text((await run('state')).stdout)).toBe('counter=1 leaked=0\n');
    }
  });

  it('drops a memory the run grew: the next run starts at the initial size and cannot read the old pages', async () => {
    const initial = pagesOf(await run('scan'));
    expect(text((await run('secret', 'grow')).stdout)).toBe(`pages=${initial + 1}\n`);
    const r = await run('scan');
    expect(r.memoryReused).toBeFalsy();
    expect(text(r.stdout)).toBe(`pages=${initial} found=0\n`);
    // Where the grown page was is past the end now: reading it traps.
    await run('secret', 'grow');
    const peek = await run('peek', String(initial * 65536 + 16));
    expect(peek.outcome).toBe('trap');
    expect(text(peek.stdout)).toBe('');
    // And the memory of an ungrown run is reused again after that.
    await run('scan');
    expect((await run('scan')).memoryReused).toBe(true);
  });

  it('keeps the memory cap of every instance that gets a reused memory', async () => {
    await run('scan');
    const r = await run('grow');
    expect(r.memoryReused).toBe(true);
    expect(text(r.stdout)).toMatch(/^grow refused after \d+ pages\n$/);
    const pages = Number(/after (\d+) pages/.exec(text(r.stdout))?.[1]);
    const initial = pagesOf(await run('scan'));
    expect(initial + pages).toBeLessThanOrEqual(LIMITS.memoryBytes / 65536);
    expect(initial + pages + 16).toBeGreaterThan(LIMITS.memoryBytes / 65536);
  });
});
