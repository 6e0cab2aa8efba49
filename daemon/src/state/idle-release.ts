// Gives back the heap a burst of work grew, once the daemon has been quiet a while. Back-to-back turns grow V8's
// young generation and committed old space faster than V8 gives them back: 200 turns left a daemon at +22–53 MiB
// right after them (bench/agent.mjs), with ~17 MiB live of ~96 MiB committed after a full collection (a --trace-gc
// probe). V8's own memory reducer gave it back ~40 s after the last turn in one probe, and not within 60 s in a run
// on a loaded machine. So when no turn has run for `delayMs`, one memory-reducing collection (state/memory.ts) is
// made: it pauses the event loop 30–65 ms, once per quiet spell, never while a turn runs.

/** What the sessions tell it: a turn started, a turn ended, or some other work on a session ended. */
export interface IdleRelease {
  turnStarted(): void;
  turnEnded(): void;
  /** Work outside a turn ended (a client's direct tool call): counts as activity, like a turn's end. */
  workEnded(): void;
  close(): void;
}

export interface IdleReleaseOptions {
  /** Quiet time before the collection (ms); 0 turns it off. */
  delayMs: number;
  /** The collection; must not reject (releaseMemoryQuietly). */
  release: () => Promise<void>;
  /** Timers (tests pass fake ones). */
  setTimer?: (fn: () => void, ms: number) => { unref?: () => unknown };
  clearTimer?: (t: unknown) => void;
}

export function createIdleRelease(o: IdleReleaseOptions): IdleRelease {
  const setTimer = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = o.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
  let running = 0;
  let timer: ReturnType<typeof setTimer> | null = null;
  let closed = false;
  const cancel = () => {
    if (timer) clearTimer(timer);
    timer = null;
  };
  // Every end of work restarts the wait, so the collection comes `delayMs` after the last of a burst.
  const schedule = () => {
    cancel();
    if (closed || o.delayMs <= 0 || running > 0) return;
    timer = setTimer(() => {
      timer = null;
      if (!closed && running === 0) void o.release();
    }, o.delayMs);
    timer.unref?.();
  };
  return {
    turnStarted() {
      running++;
      cancel();
    },
    turnEnded() {
      running = Math.max(0, running - 1);
      schedule();
    },
    workEnded() {
      schedule();
    },
    close() {
      closed = true;
      cancel();
    },
  };
}
