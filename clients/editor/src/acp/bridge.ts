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
  daemon: ShadowboxClient;
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
  const s = new BridgeState(o.daemon, o.log);
  relayDaemonToEditor(s);
  const app = agent({ name: 'shadowbox' })
    .onRequest('initialize', ({ params }) => initialize(s, params, o.version))
    .onRequest('session/new', ({ params }) => newSession(s, params))
    .onRequest('session/load', ({ params }) => openSession(s, params, true))
    .onRequest('session/resume', ({ params }) => openSession(s, params, false))
    .onRequest('session/close', async ({ params }) => {
      // Detaching leaves the session with the daemon (the terminal and web clients still see it).
      await relay(s.daemon.request(SessionDetach, { sessionId: params.sessionId }), params.sessionId);
      await s.flush(params.sessionId);
      s.forget(params.sessionId);
      return {};
    })
    .onRequest('session/list', async ({ params }) => {
      const { sessions } = await relay(s.daemon.request(SessionList, params.cwd ? { workspace: params.cwd } : {}));
      return {
        sessions: sessions.map((x) => ({
          sessionId: x.sessionId,
          cwd: x.workspace,
          title: x.title || null,
          updatedAt: x.updatedAt,
        })),
      };
    })
    .onRequest('session/prompt', ({ params, signal }) => prompt(s, params, signal))
    .onNotification('session/cancel', ({ params }) => s.cancelTurn(params.sessionId))
    .onRequest('session/set_mode', ({ params }) => setMode(s, params.sessionId, params.modeId))
    // shadowbox's review gate, for editors that know these extension methods.
    .onRequest('_shadowbox/review', { parse: (v: unknown) => sessionParams.parse(v) }, async ({ params }) => ({
      status: await relay(s.daemon.request(ShadowStatus, { sessionId: params.sessionId }), params.sessionId),
      diff: await relay(s.daemon.request(ShadowDiff, { sessionId: params.sessionId }), params.sessionId),
    }))
    .onRequest('_shadowbox/accept', { parse: (v: unknown) => selection.parse(v) }, ({ params }) =>
      relay(s.daemon.request(ShadowAccept, params), params.sessionId),
    )
    .onRequest('_shadowbox/reject', { parse: (v: unknown) => selection.parse(v) }, ({ params }) =>
      relay(
        s.daemon.request(ShadowReject, { sessionId: params.sessionId, paths: params.paths, hunks: params.hunks }),
        params.sessionId,
      ),
    )
    .onRequest('_shadowbox/undo', { parse: (v: unknown) => sessionParams.parse(v) }, ({ params }) =>
      relay(s.daemon.request(ShadowUndo, params), params.sessionId),
    );
  return {
    app,
    bind: (c) => {
      s.conn = c;
    },
  };
}
