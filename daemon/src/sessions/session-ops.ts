import { ErrorCodes } from '@shadowbox/protocol';
import { compactConversation, Conversation } from '../agent/index.js';
import { ShadowboxError } from '../errors.js';
import type { SessionManagerDeps } from './deps.js';
import type { LiveSession } from './live-session.js';
import { planRewind } from './rewind.js';

/**
 * The operations that change a session's conversation outside a turn: rewind (the conversation and the
 * shadow workspace back to the end of an earlier turn) and compaction on demand. Each holds the session like
 * a turn does, so a prompt sent meanwhile is refused (SessionBusy) and session/cancel stops it.
 */
export class SessionOps {
  constructor(private readonly deps: SessionManagerDeps) {}

  /** Rewinds to the end of `toTurn` (a turnId, or a turn number; default: the prompt before the last). */
  rewind(live: LiveSession, toTurn: string | number | undefined, clientId: string) {
    return this.exclusive(live, 'rewind', async () => {
      await live.load();
      live.conversation ??= Conversation.fromEvents(live.events ?? []);
      const plan = planRewind(live.conversation, toTurn);
      const label = `rewind to ${plan.toTurn ?? 'the start'} (${plan.drop.length} turn(s) taken back)`;
      const files = this.deps.rewindShadow ? await this.deps.rewindShadow(live.meta, plan.keep, plan.drop, label) : [];
      live.emit({ type: 'rewind', toTurn: plan.toTurn, rewound: plan.drop, files, clientId });
      this.deps.onSessionEvent?.(live.meta, 'session.rewind', { toTurn: plan.toTurn, rewound: plan.drop, files });
      await live.log.flush();
      return { toTurn: plan.toTurn, rewound: plan.drop, files };
    });
  }

  /** Summarizes the older turns now (`/compact`), keeping the newest fifth of the window verbatim. */
  compact(live: LiveSession, cancel: AbortSignal) {
    return this.exclusive(live, 'compact', async (own) => {
      await live.load();
      live.conversation ??= Conversation.fromEvents(live.events ?? []);
      const model = this.deps.createModel(live.meta.model);
      const r = await compactConversation({
        conversation: live.conversation,
        model,
        turnId: null,
        trigger: 'command',
        keepTokens: Math.floor(model.contextWindow * 0.2),
        signal: AbortSignal.any([own, cancel]),
        ...(this.deps.pendingChanges ? { pendingChanges: () => this.deps.pendingChanges!(live.meta) } : {}),
      });
      if (!r)
        throw new ShadowboxError(
          ErrorCodes.InvalidParams,
          'nothing_to_compact',
          'the conversation is too short to summarize (the newest turn is always kept)',
        );
      if (r.usage) live.emit({ type: 'usage', turnId: 'compact', ...r.usage, contextWindow: model.contextWindow });
      live.emit(r.event);
      this.deps.onSessionEvent?.(live.meta, 'session.compact', {
        compacted: r.event.compacted,
        tokensBefore: r.event.tokensBefore,
        tokensAfter: r.event.tokensAfter,
      });
      await live.log.flush();
      return {
        compacted: r.event.compacted,
        tokensBefore: r.event.tokensBefore,
        tokensAfter: r.event.tokensAfter,
        ...(r.usage ? { usage: r.usage } : {}),
      };
    });
  }

  private async exclusive<T>(live: LiveSession, what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (live.running)
      throw new ShadowboxError(
        ErrorCodes.SessionBusy,
        'turn_running',
        `session ${live.id} is running a turn; ${what} after it ends`,
      );
    const abort = new AbortController();
    let resolveDone!: () => void;
    live.running = { turnId: what, abort, done: new Promise<void>((r) => (resolveDone = r)) };
    try {
      return await fn(abort.signal);
    } finally {
      live.running = null;
      resolveDone();
      void this.deps.onSessionIdle?.(live.meta).catch(() => undefined);
    }
  }
}
