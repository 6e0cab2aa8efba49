import type { Logger } from '../state/index.js';
import type { LiveSession, SessionMeta } from './live-session.js';

/** How long create / attach / prompt wait for a session's MCP servers before going on without them. */
export const DEFAULT_OPEN_TIMEOUT_MS = 20_000;

/**
 * Runs the session-open hook (a session's own MCP servers) once per session and daemon start, and again after
 * the servers changed; callers wait for it at most `timeoutMs`, then go on without what is still starting.
 */
export class SessionOpener {
  /** Per session: the last run of the hook. */
  private readonly runs = new Map<string, Promise<void>>();
  private readonly done = new Set<string>();

  constructor(
    private readonly hook: ((meta: SessionMeta) => Promise<void>) | undefined,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
    /** Called when a run finished: the session's tools are rebuilt with what came up. */
    private readonly onOpened: (sessionId: string) => void,
  ) {}

  /** Runs the hook if it has not run for this session (bounded); never throws. */
  async ensure(live: LiveSession): Promise<void> {
    if (!this.hook) return;
    // The common case: opened long ago, nothing to wait for (no timer, no race).
    if (this.done.has(live.id)) return;
    let run = this.runs.get(live.id);
    if (!run) {
      const started = this.hook(live.meta).then(
        // A running turn keeps the tools it has.
        () => this.onOpened(live.id),
        (e: unknown) => this.logger.error(`session ${live.id}: open failed: ${(e as Error)?.message ?? String(e)}`),
      );
      run = started;
      this.runs.set(live.id, started);
      void started.then(() => {
        if (this.runs.get(live.id) === started) this.done.add(live.id);
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      run.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut)
      this.logger.warn(
        `session ${live.id}: its MCP servers did not come up within ${this.timeoutMs} ms; going on without them`,
      );
  }

  /** Resolves when the session's current run (if any) has finished. */
  async settled(sessionId: string): Promise<void> {
    await this.runs.get(sessionId);
  }

  /** The session's servers changed: the next ensure() runs the hook again. */
  reset(sessionId: string): void {
    this.runs.delete(sessionId);
    this.done.delete(sessionId);
  }
}
