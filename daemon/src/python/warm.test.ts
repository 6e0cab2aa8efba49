// warm() primes CPython in a throwaway worker, spawned only for that run; a real call never queues behind it.
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WorkerPool } from '../wasi/index.js';
import { DEFAULT_PYTHON_LIMITS, PythonSandbox } from './runtime.js';
import { findBuiltPythonBundle, loadBundleDir, MemoryLayerView } from './test-support.js';

const bundleDir = findBuiltPythonBundle();
const load = () => loadBundleDir(bundleDir as string);
const view = () => new MemoryLayerView(tmpdir());

// Awaits a condition; one that never holds fails by the test's timeout.
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

/** Counts the sandbox workers started from now on (WorkerPool's private spawn, every pool's). */
function countSpawns(): { readonly count: number } {
  const spy = vi.spyOn(WorkerPool.prototype as unknown as { spawn(): unknown }, 'spawn');
  return {
    get count() {
      return spy.mock.calls.length;
    },
  };
}

describe.skipIf(!bundleDir)('python warm-up take-over', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('primes in a throwaway worker when no call comes', async () => {
    const spawns = countSpawns();
    const sb = new PythonSandbox(load, DEFAULT_PYTHON_LIMITS, undefined);
    try {
      expect(await sb.warm()).toBe('primed');
      // The pooled worker, which compiled the module, and the throwaway one.
      expect(spawns.count).toBe(2);
      const r = await sb.run({ code: 'print(1+1)' }, { view: view() });
      expect(r).toMatchObject({ exitCode: 0, stdout: '2\n' });
      expect(spawns.count).toBe(2);
    } finally {
      await sb.close();
    }
  }, 60_000);

  it('a call that starts during the priming run aborts it instead of waiting for it', async () => {
    // A priming program that would hold its worker for a minute: a call queued behind it would too.
    const sb = new PythonSandbox(load, DEFAULT_PYTHON_LIMITS, undefined, {
      primeArgv: ['-c', 'import time\nwhile True: time.sleep(1)'],
    });
    try {
      const warmed = sb.warm();
      await until(() => sb.isPriming);
      // The priming program never ends: the call answering at all, and warm() saying taken_over, is the proof.
      const r = await sb.run({ code: 'print(1+1)' }, { view: view() });
      expect(r).toMatchObject({ exitCode: 0, stdout: '2\n' });
      expect(await warmed).toBe('taken_over');
      expect(sb.isPriming).toBe(false);
    } finally {
      await sb.close();
    }
  }, 60_000);

  it('a call that starts before the bundle is compiled means no priming run, and no worker spawned for one', async () => {
    const spawns = countSpawns();
    const sb = new PythonSandbox(load, DEFAULT_PYTHON_LIMITS, undefined, {
      primeArgv: ['-c', 'import time\nwhile True: time.sleep(1)'],
    });
    try {
      const warmed = sb.warm();
      const r = await sb.run({ code: 'print(1+1)' }, { view: view() });
      expect(r).toMatchObject({ exitCode: 0, stdout: '2\n' });
      expect(await warmed).toBe('skipped');
      // One worker in all: the module was compiled in the pooled worker the call then ran in (no one-off worker for
      // the compile, no throwaway one started beside the call).
      expect(spawns.count).toBe(1);
    } finally {
      await sb.close();
    }
  }, 60_000);

  it('a call waiting for the compile when the sandbox closes is told it closed (its worker stopped under it)', async () => {
    const sb = new PythonSandbox(load, DEFAULT_PYTHON_LIMITS, undefined);
    const call = sb.run({ code: 'print(1+1)' }, { view: view() });
    // Its outcome is taken before close(): the call rejects while close() waits for the worker to stop, and a
    // rejection nobody has taken by then is an unhandled one (vitest fails the run on it).
    const outcome = call.then(
      () => null,
      (e: unknown) => e,
    );
    // The compile is posted to the pooled worker, which close() stops.
    await until(() => sb.compiles > 0);
    await sb.close();
    expect(await outcome).toMatchObject({ message: 'the python sandbox is closed' });
  }, 60_000);
});

// idle(): what the daemon waits for before work it can do later (the shell's re-probe after a start).
describe.skipIf(!bundleDir)('python idle()', () => {
  it('waits for the real calls in flight, not for the priming run', async () => {
    const sb = new PythonSandbox(load, DEFAULT_PYTHON_LIMITS, undefined, {
      primeArgv: ['-c', 'import time\nwhile True: time.sleep(1)'],
    });
    try {
      const warmed = sb.warm();
      await until(() => sb.isPriming);
      // The priming program never ends: no real call is running, so idle() answers at once.
      await sb.idle();
      const call = sb.run({ code: 'print(1+1)' }, { view: view() });
      let idled = false;
      const idle = sb.idle().then(() => (idled = true));
      // The call needs its worker's answer (another thread), which no number of microtasks brings.
      for (let i = 0; i < 20; i++) await Promise.resolve();
      expect(idled).toBe(false);
      expect(await call).toMatchObject({ exitCode: 0, stdout: '2\n' });
      await idle;
      expect(idled).toBe(true);
      expect(await warmed).toBe('taken_over');
    } finally {
      await sb.close();
    }
  }, 60_000);
});

describe('python idle() after a call that failed', () => {
  it('a call whose bundle cannot be loaded still ends: idle() answers', async () => {
    const sb = new PythonSandbox(() => Promise.reject(new Error('no python bundle')), DEFAULT_PYTHON_LIMITS, undefined);
    try {
      let idled = false;
      const call = sb.run({ code: 'print(1)' }, { view: view() }).catch((e: unknown) => e);
      const idle = sb.idle().then(() => (idled = true));
      expect(idled).toBe(false);
      expect(await call).toMatchObject({ message: 'no python bundle' });
      await idle;
      expect(idled).toBe(true);
    } finally {
      await sb.close();
    }
  });
});
