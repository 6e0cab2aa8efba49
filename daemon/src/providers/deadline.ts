/** Default wait for a model's first byte and between its streamed events (config.json `modelIdleTimeoutMs`). */
export const DEFAULT_MODEL_IDLE_TIMEOUT_MS = 60_000;

/**
 * The silence limit of one model call. Armed when the call starts (the wait for the answer's headers,
 * SDK retries included), re-armed by `streaming()` when they arrive and by `touch()` at every event.
 * When it fires it aborts `signal` (which the SDK request listens to) and records which wait it was,
 * so the caller reports `first_byte_timeout` or `idle_timeout` instead of a cancel or a cut-off.
 * The caller's own signal aborts it too (a person's cancel stays a cancel: `fired` stays null).
 */
export class ModelDeadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private phase: 'first_byte' | 'idle' = 'first_byte';
  /** Which wait ran out, or null. */
  fired: 'first_byte' | 'idle' | null = null;
  private readonly onUserAbort = () => {
    this.stop();
    this.controller.abort();
  };

  constructor(
    private readonly limits: { firstByteMs: number; idleMs: number },
    private readonly user: AbortSignal,
    private readonly onFire: () => void = () => undefined,
  ) {
    if (user.aborted) this.controller.abort();
    else user.addEventListener('abort', this.onUserAbort, { once: true });
    this.arm();
  }

  /** The limit of the current wait (for the error message). */
  get ms(): number {
    return this.phase === 'first_byte' ? this.limits.firstByteMs : this.limits.idleMs;
  }

  /** Aborts on the caller's cancel or when the silence limit runs out. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** The answer's headers arrived: from now on the limit is the gap between events. */
  streaming(): void {
    this.phase = 'idle';
    this.arm();
  }

  /** An event arrived. */
  touch(): void {
    this.arm();
  }

  /** The call is over (finished, failed or cancelled): no timer stays behind. */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.user.removeEventListener('abort', this.onUserAbort);
  }

  private arm(): void {
    clearTimeout(this.timer);
    if (this.controller.signal.aborted) return;
    this.timer = setTimeout(() => {
      this.fired = this.phase;
      this.controller.abort();
      this.onFire();
    }, this.ms);
    // A pending model call must not keep a stopping daemon alive.
    this.timer.unref();
  }
}
