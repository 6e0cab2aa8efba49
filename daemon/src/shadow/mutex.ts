/** What `Mutex.runThen`'s work gives back: the caller's answer, and work to finish after it (still holding the lock). */
export interface AnswerThen<T> {
  value: T;
  /** Runs once the caller has `value`, before the next holder of the lock; must not throw (log instead). */
  finish?: () => Promise<void>;
}

/** Why: serializes async work per key (one session's layer mutations, accepts, checkpoints; one repository's writers). */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.catch(() => undefined);
    return next;
  }

  /**
   * Like `run`, but the caller gets its answer as soon as `fn` has one, while the lock stays held until
   * `fn`'s `finish` work is done too: work nobody's answer depends on (a state file saved after the
   * durable record, a compaction) leaves the caller's wait without ever overlapping the next holder.
   */
  runThen<T>(fn: () => Promise<AnswerThen<T>>): Promise<T> {
    let answer!: (v: T) => void;
    const answered = new Promise<T>((resolve) => (answer = resolve));
    const work = async () => {
      const r = await fn();
      answer(r.value);
      if (!r.finish) return;
      // On a later turn of the event loop (a timer): the caller's continuation — a JSON-RPC response, which
      // vscode-jsonrpc writes to its socket from a setImmediate — goes out first, so synchronous work in
      // `finish` never holds the answer back.
      await new Promise<void>((resolve) => setTimeout(resolve, 0));
      await r.finish().catch(() => undefined);
    };
    const next = this.tail.then(work, work);
    this.tail = next.catch(() => undefined);
    // fn's failure is the caller's (nothing was answered); once answered, `next` only waits for `finish`.
    return Promise.race([answered, next.then(() => answered)]);
  }
}
