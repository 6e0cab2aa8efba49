import { randomUUID } from 'node:crypto';
import { ErrorCodes, type ImageBlock, type StopReason, type Usage } from '@shadowbox/protocol';
import {
  Conversation,
  filesTouched,
  INTERRUPTED_RESULT,
  runTurn,
  type Instructions,
  type TurnError,
} from '../agent/index.js';
import { isShadowboxError, ShadowboxError } from '../errors.js';
import type { SessionManagerDeps } from './deps.js';
import type { LiveSession } from './live-session.js';
import type { MetaStore } from './meta-store.js';
import type { SessionOpener } from './session-opener.js';
import type { SessionTools } from './session-tools.js';
import { sameInstructions } from './summary.js';

/** The prompt that starts a turn (null when a turn resumes after a restart). */
export type TurnUser = {
  text: string;
  clientId: string;
  maxTurns?: number;
  images?: ImageBlock[];
  /** The slash command that sent the prompt (`init`). */
  command?: string;
} | null;
export type TurnOutcome = { turnId: string; stopReason: StopReason; error?: TurnError; usage?: Usage };

/**
 * Runs a session's turns: the user message, the agent loop over the session's conversation and tools, the
 * turn's checkpoint, turn_end — and repairs a turn a crash left open (running calls fail as interrupted; a
 * pending permission question is asked again by resuming the turn).
 */
export class TurnRunner {
  constructor(
    private readonly deps: SessionManagerDeps,
    private readonly metas: MetaStore,
    private readonly opener: SessionOpener,
    private readonly tools: SessionTools,
  ) {}

  /** Starts a turn; claims the session before its first await, so a second prompt sent at once is refused. */
  async start(
    live: LiveSession,
    turnId: string,
    user: TurnUser,
    resumeCalls?: { id: string; name: string; arguments: string }[],
  ): Promise<TurnOutcome> {
    const abort = new AbortController();
    let resolveDone!: () => void;
    live.running = { turnId, abort, done: new Promise<void>((r) => (resolveDone = r)) };
    // The turn streams batch after batch: its log stays open until the turn ends.
    live.log.hold(true);
    try {
      await live.load();
      await this.opener.ensure(live);
      await this.deps.toolsReady?.();
      const conversation = (live.conversation ??= Conversation.fromEvents(live.events ?? []));
      if (!live.meta.title && user) {
        live.meta.title = user.text.split('\n')[0].slice(0, 80);
        await this.metas.save(live.meta);
      }
      if (user) {
        live.emit({
          type: 'user_message',
          turnId,
          text: user.text,
          clientId: user.clientId,
          ...(user.images?.length ? { images: user.images } : {}),
          ...(user.command ? { command: user.command } : {}),
        });
        this.deps.onSessionEvent?.(live.meta, 'prompt', {
          text: user.text,
          clientId: user.clientId,
          ...(user.images?.length ? { images: user.images.length } : {}),
        });
      }
      live.emit({ type: 'turn_start', turnId, model: live.meta.model });
      try {
        this.deps.onTurnStart?.(live.meta);
      } catch (e) {
        this.deps.logger.warn(`session ${live.id}: turn start: ${(e as Error).message}`);
      }
      let result = await this.loop(live, turnId, user, conversation, abort.signal, resumeCalls);
      if (live.logFailure !== null) result = logFailureResult(live.logFailure);
      live.broker.cancelAll();
      await this.checkpoint(live, turnId, user);
      live.emit({
        type: 'turn_end',
        turnId,
        stopReason: result.stopReason,
        ...(result.error ? { error: result.error } : {}),
        ...(result.usage ? { usage: result.usage } : {}),
      });
      return { turnId, ...result };
    } finally {
      live.running = null;
      live.log.hold(false);
      resolveDone();
      // An idle session holds no file open (thousands of sessions under the default descriptor limit). Not
      // awaited: the answer does not wait for it; the shadow's session lock orders it with the next use.
      void this.deps
        .onSessionIdle?.(live.meta)
        .catch((e: unknown) => this.deps.logger.warn(`session ${live.id}: release: ${(e as Error).message}`));
    }
  }

  /** Repairs a crashed turn; true when a turn was resumed to ask a pending question again. */
  recover(live: LiveSession): boolean {
    const state = Conversation.fromEvents(live.events ?? []);
    // A client's direct call the daemon lost ends failed too (it is not run again; the client got no answer).
    for (const d of state.openDirectCalls)
      live.emit({
        type: 'tool_call_update',
        turnId: d.turnId,
        callId: d.callId,
        status: 'failed',
        content: INTERRUPTED_RESULT,
        code: ErrorCodes.ToolFailed,
        reason: 'interrupted',
        durationMs: 0,
        origin: 'client',
      });
    if (!state.openTurn) return false;
    // Calls that were running when the daemon died are not run twice: they fail as interrupted, in the log
    // too, so clients replaying the history do not show them running for ever.
    for (const c of state.unresolvedCalls.filter((u) => !u.awaitingPermission)) {
      live.emit({
        type: 'tool_call_update',
        turnId: state.openTurn,
        callId: c.id,
        status: 'failed',
        content: INTERRUPTED_RESULT,
        code: ErrorCodes.ToolFailed,
        reason: 'interrupted',
        durationMs: 0,
      });
    }
    live.emit({
      type: 'turn_end',
      turnId: state.openTurn,
      stopReason: 'interrupted',
      error: {
        code: ErrorCodes.InternalError,
        reason: 'daemon_restarted',
        message: 'the daemon stopped during this turn',
      },
    });
    live.emit({ type: 'daemon_restarted', interruptedTurn: state.openTurn });
    const awaiting = state.unresolvedCalls.filter((c) => c.awaitingPermission);
    if (awaiting.length === 0) return false;
    // A question that was pending is asked again: resume the turn with the unanswered calls.
    live.conversation = Conversation.fromEvents(live.events ?? []);
    const calls = awaiting.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
    void this.start(live, randomUUID(), null, calls).catch((e: unknown) =>
      this.deps.logger.error(`resume ${live.id}: ${(e as Error).message}`),
    );
    return true;
  }

  /** The agent loop; a failure outside it becomes the turn's error. */
  private async loop(
    live: LiveSession,
    turnId: string,
    user: TurnUser,
    conversation: Conversation,
    signal: AbortSignal,
    resumeCalls?: { id: string; name: string; arguments: string }[],
  ): Promise<{ stopReason: StopReason; error?: TurnError; usage?: Usage }> {
    try {
      return await runTurn({
        turnId,
        model: this.deps.createModel(live.meta.model),
        system: () => this.system(live, conversation),
        conversation,
        tools: this.tools.for(live),
        emit: (b) => live.emit(b),
        signal,
        limits: {
          maxTurns: user?.maxTurns ?? this.deps.maxTurns,
          contextHighWater: 0.8,
          compactAt: this.deps.compactAt ?? 0.7,
        },
        ...(resumeCalls ? { resumeCalls } : {}),
        ...(this.deps.pendingChanges ? { pendingChanges: () => this.deps.pendingChanges!(live.meta) } : {}),
      });
    } catch (e) {
      const err = isShadowboxError(e)
        ? e
        : new ShadowboxError(ErrorCodes.InternalError, 'internal', (e as Error).message);
      return { stopReason: 'error', error: { code: err.code, reason: err.reason, message: err.message } };
    }
  }

  /**
   * The system prompt of the next model call, with the instruction files as they are now (read through the
   * shadow view); an `instructions` event says when the files in effect changed.
   */
  private async system(live: LiveSession, conversation: Conversation): Promise<string> {
    if (!this.deps.instructions) return this.deps.system(live.meta, '');
    const touched = filesTouched(conversation.messages);
    let found: Instructions;
    try {
      found = await this.deps.instructions(live.meta, [...touched.read, ...touched.changed]);
    } catch (e) {
      this.deps.logger.warn(`session ${live.id}: instruction files not read: ${(e as Error).message}`);
      found = { files: [], text: '' };
    }
    if (!sameInstructions(live.summary.instructions, found.files) && (found.files.length || live.summary.instructions))
      live.emit({ type: 'instructions', files: found.files });
    return this.deps.system(live.meta, found.text);
  }

  /** The turn's shadow changes as one commit (a failure is logged; the turn still ends). */
  private async checkpoint(live: LiveSession, turnId: string, user: TurnUser): Promise<void> {
    const summary = (user?.text ?? live.meta.title ?? 'resumed turn').split('\n')[0].slice(0, 72) || 'agent turn';
    try {
      const cp = await this.deps.checkpoint(live.meta, turnId, summary);
      if (cp) live.emit({ type: 'checkpoint', turnId, commit: cp.commit, summary, files: cp.files });
    } catch (e) {
      this.deps.logger.error(`checkpoint ${live.id}: ${(e as Error).message}`);
    }
  }
}

/** The log could not be written (a full disk): the turn was stopped; say why when it ends. */
function logFailureResult(f: unknown): { stopReason: StopReason; error: TurnError } {
  return isShadowboxError(f)
    ? { stopReason: 'error', error: { code: f.code, reason: f.reason, message: f.message } }
    : {
        stopReason: 'error',
        error: {
          code: ErrorCodes.InternalError,
          reason: 'event_log_failed',
          message: f instanceof Error ? f.message : 'event log write failed',
        },
      };
}
