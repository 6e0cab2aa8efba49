import { describe, expect, it } from 'vitest';
import { createIdleRelease } from './idle-release.js';

/** Hand-driven timers: `fire()` runs the pending one, as if its time had come. */
function fakeTimers() {
  let next = 0;
  const pending = new Map<number, { fn: () => void; ms: number }>();
  return {
    setTimer: (fn: () => void, ms: number) => {
      const id = ++next;
      pending.set(id, { fn, ms });
      return { id, unref: () => undefined };
    },
    clearTimer: (t: unknown) => void pending.delete((t as { id: number }).id),
    pending: () => [...pending.values()],
    fire() {
      const [id, t] = [...pending.entries()][0] ?? [];
      if (id === undefined || !t) throw new Error('no timer pending');
      pending.delete(id);
      t.fn();
    },
  };
}

function setup(delayMs = 30_000) {
  const timers = fakeTimers();
  let released = 0;
  const r = createIdleRelease({
    delayMs,
    release: async () => void released++,
    setTimer: timers.setTimer,
    clearTimer: timers.clearTimer,
  });
  return { r, timers, released: () => released };
}

describe('createIdleRelease', () => {
  it('collects once, delayMs after the last turn of a burst ended', () => {
    const { r, timers, released } = setup();
    for (let i = 0; i < 3; i++) {
      r.turnStarted();
      expect(timers.pending()).toHaveLength(0);
      r.turnEnded();
      expect(timers.pending()).toEqual([expect.objectContaining({ ms: 30_000 })]);
    }
    timers.fire();
    expect(released()).toBe(1);
    expect(timers.pending()).toHaveLength(0);
  });

  it('never while a turn runs: a turn that starts cancels the wait, one still running keeps it off', () => {
    const { r, timers, released } = setup();
    r.turnStarted(); // session A
    r.turnStarted(); // session B
    r.turnEnded(); // B ends while A runs
    expect(timers.pending()).toHaveLength(0);
    r.workEnded(); // a direct call ends while A runs
    expect(timers.pending()).toHaveLength(0);
    r.turnEnded(); // A ends
    expect(timers.pending()).toHaveLength(1);
    r.turnStarted();
    expect(timers.pending()).toHaveLength(0);
    expect(released()).toBe(0);
  });

  it('work outside a turn schedules it too; a closed one never collects; delayMs 0 is off', () => {
    const a = setup();
    a.r.workEnded();
    a.timers.fire();
    expect(a.released()).toBe(1);

    const b = setup();
    b.r.workEnded();
    b.r.close();
    expect(b.timers.pending()).toHaveLength(0);
    b.r.turnEnded();
    expect(b.timers.pending()).toHaveLength(0);
    expect(b.released()).toBe(0);

    const c = setup(0);
    c.r.turnStarted();
    c.r.turnEnded();
    c.r.workEnded();
    expect(c.timers.pending()).toHaveLength(0);
  });

  it('more ends than starts (a turn recovered after a restart) do not leave it counting a turn forever', () => {
    const { r, timers, released } = setup();
    r.turnEnded();
    r.turnEnded();
    r.turnStarted();
    r.turnEnded();
    timers.fire();
    expect(released()).toBe(1);
  });
});
