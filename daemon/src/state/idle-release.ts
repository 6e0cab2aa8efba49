// Gives back the heap a burst of work grew, once the daemon has been quiet a while. Back-to-back turns grow V8's
// young generation and committed old space faster than V8 gives them back: 210 turns left a daemon at +22–53 MiB
// right after them (bench/agent.mjs), with ~17 MiB live of ~96 MiB committed after a full collection (a --trace-gc
// probe). V8's own memory reducer gave it back ~40 s after the last turn in one probe, and not within 60 s in a run
// on a loaded machine. So when no work has ended for `delayMs` and nothing is at work then, one memory-reducing
// collection (state/memory.ts) is made: it pauses the event loop 30–65 ms, once per quiet spell. Whether anything is
// at work is asked of the sessions when the wait is over (SessionManager.busy), not counted here: a turn is at work
// from its prompt's acceptance, a counter of started turns would miss its opening and duplicate what they know.

/** What the daemon tells it: some work on a session ended (a turn, however it ended, or a direct tool call). */
export interface IdleRelease {
  workEnded(): void;
  close(): void;
}

export interface IdleReleaseOptions {
  /** Quiet time before the collection (ms); 0 turns it off; past MAX_DELAY_MS it waits MAX_DELAY_MS. */
  delayMs: number;
  /** The collection; must not reject (releaseMemoryQuietly). */
  release: () => Promise<void>;
  /**
   * Whether anything is at work when the wait is over (SessionManager.busy: a turn claimed, started or not, an
   * exclusive operation, a direct call): then it waits `delayMs` again instead of collecting.
   */
  busy: () => boolean;
  /** Timers (tests pass fake ones). */
  setTimer?: (fn: () => void, ms: number) => { unref?: () => unknown };
  clearTimer?: (t: unknown) => void;
}

/** Node's largest timer delay (2^31 − 1 ms, ~24.8 days): a larger one fires after 1 ms, with a warning. */
export const MAX_DELAY_MS = 2 ** 31 - 1;

export function createIdleRelease(o: IdleReleaseOptions): IdleRelease {
  const setTimer = o.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
  const clearTimer = o.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout));
  const delayMs = Math.min(o.delayMs, MAX_DELAY_MS);
  let timer: ReturnType<typeof setTimer> | null = null;
  let closed = false;
  const cancel = () => {
    if (timer) clearTimer(timer);
    timer = null;
  };
  // Every end of work restarts the wait, so the collection comes `delayMs` after the last of a burst. The timer never
  // keeps the daemon alive.
  const schedule = () => {
    cancel();
    if (closed || delayMs <= 0) return;
    timer = setTimer(() => {
      timer = null;
      if (closed) return;
      if (o.busy()) return schedule();
      void o.release();
    }, delayMs);
    timer.unref?.();
  };
  return {
    workEnded: schedule,
    close() {
      closed = true;
      cancel();
    },
  };
}
