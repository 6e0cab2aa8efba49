// The in-process runner's deadline and cancel against a run that has already ended: a busy event loop runs due timers
// before it reads the worker's messages, so on a loaded machine the deadline's turn could come after the worker had
// posted its result. That run was reported as a timeout, its exit code and its workspace changes dropped.
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runInprocess } from './inprocess-runner.js';
import { fixture } from './test-support.js';
import type { WasiRunRequest } from './types.js';
import { CTL_DONE, type Job } from './worker/protocol.js';
import { WorkerPool } from './worker-pool.js';

const wasmApi = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<object> } }).WebAssembly;

describe('runInprocess: a run that ended before its deadline or cancel was seen', () => {
  let module: object;
  let pool: WorkerPool;
  beforeAll(async () => {
    module = await wasmApi.compile(await fixture('probe'));
  });
  afterEach(async () => {
    vi.useRealTimers();
    await pool.close();
  });

  /** A pool whose next run's control flags the test can read (the job's `ctl`, as the worker gets it). */
  function watchedPool(): { pool: WorkerPool; ctl: () => Int32Array } {
    const p = new WorkerPool(1, 10);
    let ctl: Int32Array | undefined;
    const take = p.take.bind(p);
    p.take = () => {
      const slot = take();
      const post = slot.worker.postMessage.bind(slot.worker);
      slot.worker.postMessage = (m: unknown, transfer?: Parameters<typeof post>[1]) => {
        if ((m as Partial<Job>).type === 'job') ctl = new Int32Array((m as Job).ctl);
        post(m, transfer);
      };
      return slot;
    };
    return {
      pool: p,
      ctl: () => {
        if (!ctl) throw new Error('no job was posted');
        return ctl;
      },
    };
  }

  /** Blocks this thread (no event loop turn) until the worker says it has posted its result. */
  function blockUntilDone(ctl: Int32Array): void {
    const nap = new Int32Array(new SharedArrayBuffer(4));
    const giveUp = Date.now() + 60_000;
    while (Atomics.load(ctl, CTL_DONE) !== 1) {
      if (Date.now() > giveUp) throw new Error('the worker never said it was done');
      Atomics.wait(nap, 0, 0, 2);
    }
  }

  const request = (wallMs: number, signal?: AbortSignal): WasiRunRequest => ({
    module: { sha256: 'probe', load: () => Promise.reject(new Error('unused: the module is given compiled')) },
    mounts: { tmp: true },
    argv: ['probe', 'echo', 'finished'],
    limits: { wallMs, memoryBytes: 64 * 1024 * 1024, stdoutBytes: 1 << 16, stderrBytes: 1 << 16 },
    ...(signal ? { signal } : {}),
  });

  it("the deadline's turn coming after the worker's result: the result, not a timeout", async () => {
    const w = watchedPool();
    pool = w.pool;
    // Only the deadline's timer is faked: it fires when the test says, after the worker has posted.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const running = runInprocess(request(60_000), { pool, module, maxPages: 1024, fetch: null });
    blockUntilDone(w.ctl());
    vi.advanceTimersByTime(60_000);
    vi.useRealTimers();
    const r = await running;
    expect(r.outcome).toBe('exited');
    expect(r.exitCode).toBe(0);
    expect(Buffer.from(r.stdout).toString()).toBe('finished\n');
  });

  it("a cancel coming after the worker's result: the result, not cancelled", async () => {
    const w = watchedPool();
    pool = w.pool;
    const ac = new AbortController();
    const running = runInprocess(request(600_000, ac.signal), { pool, module, maxPages: 1024, fetch: null });
    blockUntilDone(w.ctl());
    ac.abort();
    const r = await running;
    expect(r.outcome).toBe('exited');
    expect(Buffer.from(r.stdout).toString()).toBe('finished\n');
  });

  it('a run still going at its deadline is a timeout', async () => {
    pool = new WorkerPool(1, 10);
    const r = await runInprocess(
      { ...request(300), argv: ['probe', 'loop'] },
      { pool, module, maxPages: 1024, fetch: null },
    );
    expect(r.outcome).toBe('timeout');
  });
});
