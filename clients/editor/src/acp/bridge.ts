import { agent, type AgentApp, type AgentConnection } from '@agentclientprotocol/sdk';
import {
  SessionDetach,
  SessionList,
  ShadowAccept,
  ShadowDiff,
  ShadowReject,
  ShadowStatus,
  ShadowUndo,
} from '@shadowbox/protocol';
import { z } from 'zod';
import type { ShadowboxClient } from '../client.js';
import { BridgeState } from './bridge-state.js';
import { relayDaemonToEditor } from './daemon-relay.js';
import { relay } from './errors.js';
import { initialize, newSession, openSession, prompt, setMode } from './session-methods.js';

export interface AcpBridgeOptions {
  /** The initialized daemon client, or its promise: the editor's initialize is answered without waiting for it. */
  daemon: ShadowboxClient | Promise<ShadowboxClient>;
  log: (msg: string) => void;
  version: string;
}

const sessionParams = z.object({ sessionId: z.string() });
const selection = sessionParams.extend({
  paths: z.array(z.string()).default([]),
  hunks: z.array(z.string()).default([]),
  force: z.boolean().default(false),
});

/**
 * The ACP agent that editors launch (`shadowbox acp`): every ACP method is relayed to the daemon,
 * so the session is the same one the terminal and web clients see. Daemon events become
 * `session/update`s, daemon permission questions become `session/request_permission`.
 */
export function createAcpAgent(o: AcpBridgeOptions): { app: AgentApp; bind(conn: AgentConnection): void } {
  const s = new BridgeState(o.log);
  const ready = Promise.resolve(o.daemon).then((d) => {
    s.daemon = d;
    relayDaemonToEditor(s);
  });
  ready.catch(() => undefined); // each waiting request rejects with it
  /** A handler that needs the daemon: runs once the link is up (a cold start answers initialize first). */
  const after =
    <A extends unknown[], R>(h: (...a: A) => R) =>
    async (...a: A): Promise<Awaited<R>> => {
      await ready;
      return await h(...a);
    };
  const app = agent({ name: 'shadowbox' })
    .onRequest('initialize', ({ params }) => initialize(s, params, o.version))
    .onRequest(
      'session/new',
      after(({ params }) => newSession(s, params)),
    )
    .onRequest(
      'session/load',
      after(({ params }) => openSession(s, params, true)),
    )
    .onRequest(
      'session/resume',
      after(({ params }) => openSession(s, params, false)),
    )
    .onRequest(
      'session/close',
      after(async ({ params }) => {
        // Detaching leaves the session with the daemon (the terminal and web clients still see it).
        await relay(s.daemon.request(SessionDetach, { sessionId: params.sessionId }), params.sessionId);
        await s.flush(params.sessionId);
        s.forget(params.sessionId);
        return {};
      }),
    )
    .onRequest(
      'session/list',
      after(async ({ params }) => {
        const { sessions } = await relay(s.daemon.request(SessionList, params.cwd ? { workspace: params.cwd } : {}));
        return {
          sessions: sessions.map((x) => ({
            sessionId: x.sessionId,
            cwd: x.workspace,
            title: x.title || null,
            updatedAt: x.updatedAt,
          })),
        };
      }),
    )
    .onRequest(
      'session/prompt',
      after(({ params, signal }) => prompt(s, params, signal)),
    )
    // A cancel before the link is up has no turn to cancel; a failed link has nothing to cancel either.
    .onNotification('session/cancel', ({ params }) =>
      ready.then(
        () => s.cancelTurn(params.sessionId),
        () => undefined,
      ),
    )
    .onRequest(
      'session/set_mode',
      after(({ params }) => setMode(s, params.sessionId, params.modeId)),
    )
    // shadowbox's review gate, for editors that know these extension methods.
    .onRequest(
      '_shadowbox/review',
      { parse: (v: unknown) => sessionParams.parse(v) },
      after(async ({ params }) => ({
        status: await relay(s.daemon.request(ShadowStatus, { sessionId: params.sessionId }), params.sessionId),
        diff: await relay(s.daemon.request(ShadowDiff, { sessionId: params.sessionId }), params.sessionId),
      })),
    )
    .onRequest(
      '_shadowbox/accept',
      { parse: (v: unknown) => selection.parse(v) },
      after(({ params }) => relay(s.daemon.request(ShadowAccept, params), params.sessionId)),
    )
    .onRequest(
      '_shadowbox/reject',
      { parse: (v: unknown) => selection.parse(v) },
      after(({ params }) =>
        relay(
          s.daemon.request(ShadowReject, { sessionId: params.sessionId, paths: params.paths, hunks: params.hunks }),
          params.sessionId,
        ),
      ),
    )
    .onRequest(
      '_shadowbox/undo',
      { parse: (v: unknown) => sessionParams.parse(v) },
      after(({ params }) => relay(s.daemon.request(ShadowUndo, params), params.sessionId)),
    );
  return {
    app,
    bind: (c) => {
      s.conn = c;
    },
  };
}
