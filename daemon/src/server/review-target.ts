import { realpath } from 'node:fs/promises';
import { ErrorCodes, type ResultOf, type ShadowPending } from '@shadowbox/protocol';
import { ShadowboxError } from '../errors.js';
import type { SessionManager } from '../sessions/index.js';

/** A resolved review target: the session and its workspace. */
export interface ReviewTarget {
  sessionId: string;
  workspace: string;
}

/** What a workspace-wide request is about: the pending changes (status, diff, accept, reject, …) or undoing an accept. */
export type TargetUse = 'changes' | 'undo';

/** Pending-change counts per session (the shadow service's, adapted in wiring.ts). */
export type PendingPort = (
  workspace: string,
  sessionIds: string[],
) => Promise<Array<{ sessionId: string; files: number; undoable: number; lastAcceptAt: string | null }>>;

async function realOrSame(p: string): Promise<string> {
  return realpath(p).catch(() => p);
}

/** Every session of a workspace, newest first, with its pending-change and undo counts (shadow/pending). */
export async function pendingSessions(
  sessions: SessionManager,
  pending: PendingPort,
  workspace: string,
): Promise<ResultOf<typeof ShadowPending>> {
  const ws = await realOrSame(workspace);
  const list = sessions.list(ws);
  const counts = new Map(
    (
      await pending(
        ws,
        list.map((s) => s.sessionId),
      )
    ).map((c) => [c.sessionId, c]),
  );
  return {
    workspace: ws,
    sessions: list.map((s) => {
      const c = counts.get(s.sessionId);
      return {
        sessionId: s.sessionId,
        title: s.title,
        state: s.state,
        updatedAt: s.updatedAt,
        prompts: s.prompts,
        files: c?.files ?? 0,
        undoable: c?.undoable ?? 0,
        lastAcceptAt: c?.lastAcceptAt ?? null,
      };
    }),
  };
}

/**
 * Picks the session a review request means. A sessionId is taken as given. A workspace means its one
 * session with pending changes (none pending: the latest session); undo means the session whose accept
 * is the newest. Several sessions with pending changes are refused with their list, never guessed: a
 * `python` run after an agent's `run` must not make the agent's changes unreachable or accept the wrong ones.
 */
export async function resolveTarget(
  sessions: SessionManager,
  pending: PendingPort,
  p: { sessionId?: string | undefined; workspace?: string | undefined },
  use: TargetUse,
): Promise<ReviewTarget> {
  if (p.sessionId) {
    const live = sessions.get(p.sessionId);
    return { sessionId: live.id, workspace: live.meta.workspace };
  }
  if (!p.workspace)
    throw new ShadowboxError(ErrorCodes.InvalidParams, 'missing_target', 'give a sessionId or a workspace');
  const { workspace, sessions: all } = await pendingSessions(sessions, pending, p.workspace);
  if (all.length === 0)
    throw new ShadowboxError(
      ErrorCodes.SessionNotFound,
      'no_session_for_workspace',
      `no shadowbox session on ${workspace}`,
      { workspace },
    );
  const pick = (id: string) => ({ sessionId: id, workspace });
  if (use === 'undo') {
    const newest = all
      .filter((s) => s.undoable > 0)
      .sort((a, b) => ((a.lastAcceptAt ?? '') < (b.lastAcceptAt ?? '') ? 1 : -1))[0];
    return pick((newest ?? all[0]).sessionId);
  }
  const withChanges = all.filter((s) => s.files > 0);
  if (withChanges.length > 1) {
    const list = withChanges
      .map((s) => `${s.sessionId} (${s.title || 'untitled'}: ${s.files} ${s.files === 1 ? 'file' : 'files'})`)
      .join(', ');
    throw new ShadowboxError(
      ErrorCodes.SessionAmbiguous,
      'several_sessions_pending',
      `${withChanges.length} sessions on ${workspace} have pending changes: ${list}; name the session (--session ID)`,
      {
        workspace,
        sessions: withChanges.map((s) => ({ sessionId: s.sessionId, title: s.title, files: s.files })),
      },
    );
  }
  return pick((withChanges[0] ?? all[0]).sessionId);
}
