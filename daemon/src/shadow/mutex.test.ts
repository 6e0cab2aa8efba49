// Mutex.runThen: the caller has its answer before the work after it, and the next holder of the lock waits for
// that work too (the accept's layer save and journal `done` run after the answer, never beside the next call).
import { describe, expect, it } from 'vitest';
import { Mutex } from './mutex.js';

/** A promise and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

describe('Mutex.runThen', () => {
  it('answers before its finish work runs, and holds the lock until that work is done', async () => {
    const m = new Mutex();
    const log: string[] = [];
    const release = gate();
    const started = gate();
    const answer = m.runThen(async () => {
      log.push('work');
      return {
        value: 42,
        finish: async () => {
          log.push('finish started');
          started.open();
          await release.opened;
          log.push('finish done');
        },
      };
    });
    const next = m.run(async () => {
      log.push('next holder');
      return Promise.resolve();
    });
    expect(await answer).toBe(42);
    // The answer came while the finish work has not run yet (it waits for a later turn of the event loop).
    expect(log).toEqual(['work']);
    await started.opened;
    expect(log).toEqual(['work', 'finish started']);
    release.open();
    await next;
    expect(log).toEqual(['work', 'finish started', 'finish done', 'next holder']);
  });

  it("a failure before the answer is the caller's; a failing finish is swallowed and frees the lock", async () => {
    const m = new Mutex();
    await expect(
      m.runThen<number>(async () => {
        await Promise.resolve();
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    const v = await m.runThen(async () => ({
      value: 'ok',
      finish: () => Promise.reject(new Error('late')),
    }));
    expect(v).toBe('ok');
    expect(await m.run(() => Promise.resolve('free'))).toBe('free');
  });
});
