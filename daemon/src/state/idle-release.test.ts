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

function setup(delayMs = 30_000, busy: () => boolean = () => false) {
  const timers = fakeTimers();
  let released = 0;
  const r = createIdleRelease({
    delayMs,
    busy,
    release: async () => void released++,
    setTimer: timers.setTimer,
    clearTimer: timers.clearTimer,
  });
  return { r, timers, released: () => released };
}

describe('createIdleRelease', () => {
  it('collects once, delayMs after the last end of work in a burst', () => {
    const { r, timers, released } = setup();
    for (let i = 0; i < 3; i++) {
      r.workEnded();
      // One wait, restarted by each end; never what keeps the daemon alive.
      expect(timers.pending()).toEqual([expect.objectContaining({ ms: 30_000, unrefed: true })]);
    }
    timers.fire();
    expect(released()).toBe(1);
    expect(timers.pending()).toHaveLength(0);
  });

  it('never while a session is at work: each time the wait is over then, it waits again', () => {
    let busy = true; // a turn runs (claimed, started or not), an exclusive operation, a direct call
    const { r, timers, released } = setup(30_000, () => busy);
    r.workEnded(); // another session's turn ended meanwhile
    for (let i = 0; i < 3; i++) {
      timers.fire();
      expect(released()).toBe(0);
      expect(timers.pending()).toEqual([expect.objectContaining({ ms: 30_000, unrefed: true })]);
    }
    busy = false;
    timers.fire();
    expect(released()).toBe(1);
    expect(timers.pending()).toHaveLength(0);
  });

  it('a closed one never collects; delayMs 0 is off', () => {
    const b = setup();
    b.r.workEnded();
    b.r.close();
    expect(b.timers.pending()).toHaveLength(0);
    b.r.workEnded();
    expect(b.timers.pending()).toHaveLength(0);
    expect(b.released()).toBe(0);

    const c = setup(0);
    c.r.workEnded();
    expect(c.timers.pending()).toHaveLength(0);
  });

  it('closed while the wait is over and it waits again: no collection, no timer left', () => {
    let busy = true;
    const { r, timers, released } = setup(30_000, () => busy);
    r.workEnded();
    timers.fire();
    r.close();
    busy = false;
    expect(timers.pending()).toHaveLength(0);
    expect(released()).toBe(0);
  });

  it('a delay past what a Node timer holds waits that long, not 1 ms', () => {
    const { r, timers } = setup(10 ** 12);
    r.workEnded();
    expect(timers.pending()).toEqual([expect.objectContaining({ ms: MAX_DELAY_MS })]);
  });
});
