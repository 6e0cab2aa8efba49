import {
  SessionAttach,
  SessionDetach,
  SessionList,
  ShadowStatus,
  type SessionEventBody,
  type SessionInfo,
} from '@shadowbox/protocol';
import type { ShadowboxClient } from '../client.js';

export type SessionInfoT = SessionInfo;

/** What the follower needs: the daemon, the workspace, and where to report. */
export interface FollowerDeps {
  daemon: ShadowboxClient;
  /** The workspace root as the editor gave it (the daemon realpaths it). */
  workspace: string;
  /** `initializationOptions.session`: follow this session and no other. */
  pinned?: string;
  /** True while the followed session has pending changes (then a newer session does not take over). */
  hasPending(): boolean;
  /** The followed session changed (null: none to follow); `running` when a turn is under way at attach. */
  onSession(info: SessionInfoT | null): void;
  onEvent(event: SessionEventBody): void;
  log(message: string): void;
  /** How often to look for a newer session (session/list); 0 = only when poll() is called. */
  pollMs?: number;
}

/** Follows one session of a workspace: attached (so its events arrive) without being its driver. */
export interface SessionFollower {
  readonly sessionId: string | null;
  /** Picks and attaches the session to follow. */
  start(): Promise<void>;
  /** Looks for a newer session to follow (the daemon has no "session created" event; see docs/editors.md). */
  poll(): Promise<void>;
  dispose(): void;
}

const NEWEST_CHECKED = 5;

/**
 * Why: the editor names a workspace, not a session. The follower picks the session an editor user means —
 * the one named in initializationOptions, else the newest with pending changes, else the newest — and
 * moves to a newer one only when the followed session has nothing pending, so a review is never pulled
 * away from under the person.
 */
export function createSessionFollower(d: FollowerDeps): SessionFollower {
  let current: string | null = null;
  let seen = '';
  let timer: NodeJS.Timeout | undefined;
  let busy: Promise<void> | null = null;
  const stopEvents = d.daemon.onEvent((e) => {
    if (e.sessionId === current) d.onEvent(e.event);
  });

  const pendingIn = async (s: SessionInfoT) =>
    (await d.daemon.request(ShadowStatus, { sessionId: s.sessionId }).catch(() => ({ files: [] }))).files.length > 0;

  async function choose(list: SessionInfoT[]): Promise<SessionInfoT | null> {
    for (const s of list.slice(0, NEWEST_CHECKED)) if (await pendingIn(s)) return s;
    return list[0] ?? null;
  }

  async function follow(info: SessionInfoT | null): Promise<void> {
    if ((info?.sessionId ?? null) === current) return;
    const previous = current;
    current = null;
    if (previous) await d.daemon.request(SessionDetach, { sessionId: previous }).catch(() => undefined);
    if (!info) {
      d.onSession(null);
      return;
    }
    const r = await d.daemon.request(SessionAttach, { sessionId: info.sessionId, fromSeq: info.events });
    current = info.sessionId;
    d.log(`following session ${info.sessionId} (${r.session.state})`);
    d.onSession(r.session);
  }

  async function list(): Promise<SessionInfoT[]> {
    return (await d.daemon.request(SessionList, { workspace: d.workspace })).sessions;
  }

  const once = (f: () => Promise<void>) => {
    busy ??= f().finally(() => (busy = null));
    return busy;
  };
  // Sessions other than the followed one, with their event counts: a change means one is new or moved on.
  const signature = (sessions: SessionInfoT[]) =>
    sessions
      .filter((s) => s.sessionId !== current)
      .map((s) => `${s.sessionId}:${s.events}`)
      .join(',');

  function poll(): Promise<void> {
    if (d.pinned || d.daemon.closed) return Promise.resolve();
    return once(async () => {
      const sessions = await list().catch(() => null);
      if (!sessions) return;
      const sig = signature(sessions);
      // While the followed session has pending changes nothing moves, and `seen` stays, so the change
      // is looked at again once the review is done.
      if ((current && d.hasPending()) || sig === seen) return;
      seen = sig;
      await follow(await choose(sessions)).catch((e: unknown) => d.log(`could not follow: ${(e as Error).message}`));
      seen = signature(sessions);
    });
  }

  return {
    get sessionId() {
      return current;
    },
    start: () =>
      once(async () => {
        if (d.pinned) {
          const r = await d.daemon.request(SessionList, {});
          const info = r.sessions.find((s) => s.sessionId === d.pinned);
          if (!info) d.log(`session ${d.pinned} (initializationOptions.session) is not known to the daemon`);
          await follow(info ?? null);
          return;
        }
        const sessions = await list();
        await follow(await choose(sessions));
        seen = signature(sessions);
        if (d.pollMs) {
          timer = setInterval(() => void poll(), d.pollMs);
          timer.unref();
        }
      }),
    poll,
    dispose() {
      if (timer) clearInterval(timer);
      stopEvents();
    },
  };
}
