import { once } from 'node:events';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runInprocess } from './inprocess-runner.js';
import { fixture } from './test-support.js';
import type { WasiRunRequest } from './types.js';
import { WorkerPool } from './worker-pool.js';

const wasmApi = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<object> } }).WebAssembly;
// Long enough that a run handed to a stopped worker could only end by this limit (the test would time out first).
const LIMITS = { wallMs: 600_000, memoryBytes: 64 * 1024 * 1024, stdoutBytes: 1 << 16, stderrBytes: 1 << 16 };

describe('WorkerPool', () => {
  let module: object;
  let pool: WorkerPool;
  beforeAll(async () => {
    module = await wasmApi.compile(await fixture('probe'));
  });
  afterEach(async () => {
    await pool.close();
  });
  const run = (argv: string[]) =>
    runInprocess(
      {
        module: { sha256: 'probe', load: () => Promise.reject(new Error('unused: the module is given compiled')) },
        mounts: { tmp: true },
        argv: ['probe', ...argv],
        limits: LIMITS,
      } satisfies WasiRunRequest,
      {
        pool,
        module,
        maxPages: 1024,
        fetch: null,
      },
    );

  it('drops a waiting worker whose thread stopped, so the next run gets a live one', async () => {
    pool = new WorkerPool(1, 10);
    pool.fill();
    // The waiting worker stops between runs (as one killed at its heap cap while preparing the next run would).
    const slot = pool.take();
    pool.release(slot, true);
    expect(pool.readyCount).toBe(1);
    await slot.worker.terminate();
    // Before the fix the stopped worker stayed ready and was handed out: the run's job went nowhere
    // and the run waited out its whole time limit.
    const next = pool.take();
    expect(next.worker).not.toBe(slot.worker);
    pool.release(next, true);
    const r = await run(['echo', 'alive']);
    expect(r.outcome).toBe('exited');
    expect(Buffer.from(r.stdout).toString()).toBe('alive\n');
  });

  it('does not keep a worker that stopped during its run', async () => {
    pool = new WorkerPool(1, 10);
    const slot = pool.take();
    const exited = once(slot.worker, 'exit');
    void slot.worker.terminate();
    await exited;
    pool.release(slot, true);
    expect(pool.readyCount).toBe(0);
  });

  it('keeps reusing workers after one was replaced (a queued refill does not crowd out the worker spawned for a run)', async () => {
    pool = new WorkerPool(1, 2);
    pool.fill();
    const first = pool.take();
    pool.release(first, true);
    expect(pool.take()).toBe(first);
    // Its second run is its last: terminated, and a refill is queued.
    pool.release(first, true);
    // The next run comes before the refill's turn: a worker is spawned for it.
    const onDemand = pool.take();
    await new Promise((resolve) => setImmediate(resolve));
    pool.release(onDemand, true);
    // Before the fix the refill had filled the pool meanwhile: this worker was terminated, the next
    // run got a fresh one, and so on for every later run.
    const next = pool.take();
    expect(next).toBe(onDemand);
    pool.release(next, true);
    await pool.close();
    // The same when the caller fills the pool before taking (PythonSandbox.run does).
    pool = new WorkerPool(1, 2);
    pool.fill();
    const last = pool.take();
    pool.release(last, true);
    pool.release(pool.take(), true);
    pool.fill();
    const filled = pool.take();
    await new Promise((resolve) => setImmediate(resolve));
    pool.release(filled, true);
    const again = pool.take();
    expect(again).toBe(filled);
    pool.release(again, true);
  });
});
