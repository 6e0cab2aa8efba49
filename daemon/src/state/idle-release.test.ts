import { describe, expect, it } from 'vitest';
import { createIdleRelease, MAX_DELAY_MS } from './idle-release.js';

/** Hand-driven timers: `fire()` runs the pending one, as if its time had come. */
function fakeTimers() {
  let next = 0;
  const pending = new Map<number, { fn: () => void; ms: number; unrefed: boolean }>();
  return {
    setTimer: (fn: () => void, ms: number) => {
      const id = ++next;
      const t = { fn, ms, unrefed: false };
      pending.set(id, t);
      return { id, unref: () => void (t.unrefed = true) };
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

function setup(delayMs = 30_000, busy?: () => boolean) {
  const timers = fakeTimers();
  let released = 0;
  const r = createIdleRelease({
    delayMs,
    ...(busy ? { busy } : {}),
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
      // Never what keeps the daemon alive.
      expect(timers.pending()).toEqual([expect.objectContaining({ ms: 30_000, unrefed: true })]);
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

  it('when the wait is over while a session is at work (a turn not yet started, a direct call), it waits again', () => {
    let busy = true;
    const { r, timers, released } = setup(30_000, () => busy);
    r.workEnded();
    timers.fire();
    expect(released()).toBe(0);
    expect(timers.pending()).toEqual([expect.objectContaining({ ms: 30_000 })]);
    busy = false;
    timers.fire();
    expect(released()).toBe(1);
    expect(timers.pending()).toHaveLength(0);
  });

  it('a delay past what a Node timer holds waits that long, not 1 ms', () => {
    const { r, timers } = setup(10 ** 12);
    r.workEnded();
    expect(timers.pending()).toEqual([expect.objectContaining({ ms: MAX_DELAY_MS })]);
  });

  it('an end with no start counted (defensive) does not leave it counting a turn forever', () => {
    const { r, timers, released } = setup();
    r.turnEnded();
    r.turnEnded();
    r.turnStarted();
    r.turnEnded();
    timers.fire();
    expect(released()).toBe(1);
  });
});
