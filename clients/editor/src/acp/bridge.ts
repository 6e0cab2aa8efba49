import path from 'node:path';
import {
  agent,
  RequestError,
  PROTOCOL_VERSION,
  type AgentApp,
  type AgentConnection,
  type RequestPermissionRequest,
  type SessionModeState,
  type SessionUpdate,
} from '@agentclientprotocol/sdk';
import {
  PolicyMode,
  PolicySetRules,
  SessionAttach,
  SessionCancel,
  SessionConfigure,
  SessionCreate,
  SessionDetach,
  SessionList,
  SessionPrompt,
  ShadowAccept,
  ShadowDiff,
  ShadowFile,
  ShadowReject,
  ShadowStatus,
  ShadowUndo,
  type SessionEvent,
} from '@shadowbox/protocol';
import { z } from 'zod';
import type { ShadowboxClient } from '../client.js';
import { relay } from './errors.js';
import { daemonMcpServers } from './mcp-servers.js';
import {
  acpStopReason,
  locationsOf,
  notificationsFor,
  permissionAnswer,
  permissionOptions,
  promptText,
  toAcpUpdates,
  type FileDiffText,
} from './map.js';

const ModeId = PolicyMode;
const MODES: SessionModeState['availableModes'] = [
  { id: 'read-only', name: 'Read only', description: 'The agent may read and search; nothing else.' },
  {
    id: 'review',
    name: 'Review',
    description: 'Edits land in the shadow workspace for your review; network and MCP ask.',
  },
  {
    id: 'auto',
    name: 'Auto',
    description: 'Everything not denied runs without asking (edits still need review to reach your files).',
  },
];
const modes = (current: string): SessionModeState => ({ currentModeId: current, availableModes: MODES });

export interface AcpBridgeOptions {
  daemon: ShadowboxClient;
  log: (msg: string) => void;
  version: string;
}

/**
 * The ACP agent that editors launch (`shadowbox acp`): every ACP method is relayed to the daemon,
 * so the session is the same one the terminal and web clients see. Daemon events become
 * `session/update`s, daemon permission questions become `session/request_permission`.
 */
export function createAcpAgent(o: AcpBridgeOptions): { app: AgentApp; bind(conn: AgentConnection): void } {
  const { daemon } = o;
  const workspaces = new Map<string, string>();
  // The cwd the editor gave for a session (its buffers are keyed by paths under it; the daemon's workspace is the realpath).
  const cwds = new Map<string, string>();
  const chains = new Map<string, Promise<void>>();
  let conn: AgentConnection | undefined;
  let editorReadsFiles = false;

  const send = (sessionId: string, updates: SessionUpdate[]) => {
    if (!conn || updates.length === 0) return;
    const prev = chains.get(sessionId) ?? Promise.resolve();
    const next = prev.then(async () => {
      for (const n of notificationsFor(sessionId, updates))
        await conn!.client
          .notify('session/update', n)
          .catch((e: unknown) => o.log(`notify failed: ${(e as Error).message}`));
    });
    chains.set(sessionId, next);
  };
  const flush = (sessionId: string) => chains.get(sessionId) ?? Promise.resolve();

  // Sessions whose running turn the editor asked to cancel.
  const cancelling = new Set<string>();
  const cancelTurn = async (sessionId: string) => {
    cancelling.add(sessionId);
    await daemon
      .request(SessionCancel, { sessionId })
      .catch((e: unknown) => o.log(`cancel failed: ${(e as Error).message}`));
  };

  const diffsFor = async (sessionId: string, changed: string[] | undefined): Promise<FileDiffText[]> => {
    const out: FileDiffText[] = [];
    for (const p of changed ?? []) {
      const f = await daemon.request(ShadowFile, { sessionId, path: p }).catch(() => null);
      if (f && !f.binary && f.shadow !== null) out.push({ path: p, oldText: f.real, newText: f.shadow });
    }
    return out;
  };

  daemon.onEvent((e: SessionEvent) => {
    const ws = workspaces.get(e.sessionId);
    if (!ws) return;
    const ev = e.event;
    if (ev.type === 'tool_call_update' && ev.status === 'completed' && ev.changed?.length) {
      // Fetch the texts first; the chain keeps the order of updates.
      const prev = chains.get(e.sessionId) ?? Promise.resolve();
      const pending = diffsFor(e.sessionId, ev.changed);
      chains.set(
        e.sessionId,
        prev.then(async () => {
          for (const n of notificationsFor(e.sessionId, toAcpUpdates(e, ws, await pending)))
            await conn?.client.notify('session/update', n).catch(() => undefined);
        }),
      );
      return;
    }
    send(e.sessionId, toAcpUpdates(e, ws));
  });

  daemon.onPermission(async (p, signal) => {
    if (!conn) return { outcome: 'deny' };
    const ws = workspaces.get(p.sessionId);
    const question: RequestPermissionRequest = {
      sessionId: p.sessionId,
      toolCall: {
        toolCallId: p.callId,
        title: p.summary,
        kind: p.kind,
        status: 'pending',
        rawInput: p.input,
        ...(ws ? { locations: locationsOf(ws, p.input) } : {}),
        _meta: { shadowbox: { rule: p.rule, tool: p.tool, requestId: p.requestId } },
      },
      options: permissionOptions(p.options),
    };
    // The daemon withdraws a question when another client answered or the turn was cancelled. An
    // editor that fails the question (an error, not an answer) denies: the safe default, and the
    // turn does not wait for the daemon's permission timeout.
    const res = await conn.client
      .request('session/request_permission', question, { cancellationSignal: signal, stopWaitingOnCancel: true })
      .catch((e: unknown) => {
        if (!signal.aborted)
          o.log(`permission question for ${p.callId} failed in the editor, denying: ${(e as Error).message}`);
        return { outcome: { outcome: 'cancelled' as const } };
      });
    const answer = permissionAnswer(res.outcome, p.options);
    if (answer.persistDeny && ws) {
      await daemon
        .request(PolicySetRules, { workspace: ws, add: [{ action: 'deny', tool: p.tool }] })
        .catch((e: unknown) => o.log(`could not persist reject_always: ${(e as Error).message}`));
    }
    // The call runs now: the daemon said running before it asked, and pending while it asked.
    if (answer.outcome !== 'deny')
      send(p.sessionId, [{ sessionUpdate: 'tool_call_update', toolCallId: p.callId, status: 'in_progress' }]);
    return { outcome: answer.outcome };
  });

  // read_file asks for the editor's buffer (unsaved changes included) through ACP fs/read_text_file; null
  // when the editor does not offer it or fails (the daemon then reads the saved file; it also gives up after 300 ms).
  daemon.onBufferRead(async (p, signal) => {
    const root = cwds.get(p.sessionId) ?? workspaces.get(p.sessionId);
    if (!conn || !editorReadsFiles || !root) return null;
    const res = await conn.client
      .request(
        'fs/read_text_file',
        { sessionId: p.sessionId, path: path.join(root, p.path) },
        { cancellationSignal: signal, stopWaitingOnCancel: true },
      )
      .catch((e: unknown) => {
        if (!signal.aborted) o.log(`fs/read_text_file ${p.path} failed in the editor: ${(e as Error).message}`);
        return null;
      });
    return res ? { text: res.content } : null;
  });

  const attach = async (sessionId: string, fromSeq: number) => {
    const r = await relay(daemon.request(SessionAttach, { sessionId, driver: true, fromSeq }), sessionId);
    workspaces.set(sessionId, r.session.workspace);
    return r;
  };

  // ACP: session/load and session/resume carry "the MCP servers to connect to for this session", so the
  // given list replaces the session's (the daemon restarts nothing when it is the same set; an empty list
  // on a session that has none costs no call). A list left out (resume allows it) keeps them.
  const useServers = async (
    session: { sessionId: string; mcpServers?: string[] | undefined },
    given: Parameters<typeof daemonMcpServers>[0] | undefined,
    cwd: string,
  ) => {
    if (given === undefined) return;
    const mcpServers = daemonMcpServers(given, cwd, o.log);
    if (Object.keys(mcpServers).length === 0 && !session.mcpServers?.length) return;
    // A turn running (from another client) keeps the old servers; the load itself still succeeds.
    await daemon
      .request(SessionConfigure, { sessionId: session.sessionId, mcpServers })
      .catch((e: unknown) => o.log(`MCP servers of ${session.sessionId} not changed: ${(e as Error).message}`));
  };

  const sessionParams = z.object({ sessionId: z.string() });
  const selection = sessionParams.extend({
    paths: z.array(z.string()).default([]),
    hunks: z.array(z.string()).default([]),
    force: z.boolean().default(false),
  });

  const app = agent({ name: 'shadowbox' })
    .onRequest('initialize', ({ params }) => {
      editorReadsFiles = params.clientCapabilities?.fs?.readTextFile === true;
      return {
        protocolVersion: PROTOCOL_VERSION,
        agentInfo: { name: 'shadowbox', title: 'shadowbox', version: o.version },
        agentCapabilities: {
          loadSession: true,
          promptCapabilities: { image: false, audio: false, embeddedContext: true },
          mcpCapabilities: { http: true, sse: false },
          sessionCapabilities: { list: {}, resume: {}, close: {} },
        },
        authMethods: [],
        _meta: {
          shadowbox: {
            review: '_shadowbox/review',
            accept: '_shadowbox/accept',
            reject: '_shadowbox/reject',
            undo: '_shadowbox/undo',
            editorBuffers: editorReadsFiles,
          },
        },
      };
    })
    .onRequest('session/new', async ({ params }) => {
      // The editor's MCP servers run on the daemon host for this session only; the answer waits for them.
      const mcpServers = daemonMcpServers(params.mcpServers, params.cwd, o.log);
      const s = await relay(
        daemon.request(SessionCreate, {
          workspace: params.cwd,
          ...(Object.keys(mcpServers).length ? { mcpServers } : {}),
        }),
      );
      workspaces.set(s.sessionId, s.workspace);
      cwds.set(s.sessionId, params.cwd);
      return { sessionId: s.sessionId, modes: modes(s.mode) };
    })
    .onRequest('session/load', async ({ params }) => {
      const r = await attach(params.sessionId, 0);
      cwds.set(params.sessionId, params.cwd);
      await useServers(r.session, params.mcpServers, params.cwd);
      for (const e of r.history) send(params.sessionId, toAcpUpdates(e, r.session.workspace, [], true));
      await flush(params.sessionId);
      return { modes: modes(r.session.mode) };
    })
    .onRequest('session/resume', async ({ params }) => {
      const r = await attach(params.sessionId, Number.MAX_SAFE_INTEGER);
      cwds.set(params.sessionId, params.cwd);
      await useServers(r.session, params.mcpServers, params.cwd);
      return { modes: modes(r.session.mode) };
    })
    .onRequest('session/close', async ({ params }) => {
      // Detaching leaves the session with the daemon (the terminal and web clients still see it).
      await relay(daemon.request(SessionDetach, { sessionId: params.sessionId }), params.sessionId);
      await flush(params.sessionId);
      workspaces.delete(params.sessionId);
      cwds.delete(params.sessionId);
      chains.delete(params.sessionId);
      cancelling.delete(params.sessionId);
      return {};
    })
    .onRequest('session/list', async ({ params }) => {
      const { sessions } = await relay(daemon.request(SessionList, params.cwd ? { workspace: params.cwd } : {}));
      return {
        sessions: sessions.map((s) => ({
          sessionId: s.sessionId,
          cwd: s.workspace,
          title: s.title || null,
          updatedAt: s.updatedAt,
        })),
      };
    })
    .onRequest('session/prompt', async ({ params, signal }) => {
      const { sessionId } = params;
      if (!workspaces.has(sessionId)) await attach(sessionId, Number.MAX_SAFE_INTEGER);
      const text = promptText(params.prompt);
      if (!text.trim()) throw RequestError.invalidParams(undefined, 'the prompt has no text');
      // $/cancel_request on the prompt itself cancels the turn like session/cancel does.
      const onAbort = () => void cancelTurn(sessionId);
      signal.addEventListener('abort', onAbort, { once: true });
      cancelling.delete(sessionId);
      try {
        const r = await relay(daemon.request(SessionPrompt, { sessionId, text }), sessionId);
        await flush(sessionId);
        // ACP: a turn the editor cancelled ends with stopReason cancelled, even if it failed on the way.
        if (cancelling.has(sessionId)) return { stopReason: 'cancelled' as const };
        if (r.stopReason === 'error')
          throw new RequestError(r.error?.code ?? -32603, r.error?.message ?? 'the turn failed', {
            reason: r.error?.reason,
          });
        return { stopReason: acpStopReason(r.stopReason) };
      } finally {
        signal.removeEventListener('abort', onAbort);
        cancelling.delete(sessionId);
      }
    })
    .onNotification('session/cancel', async ({ params }) => {
      await cancelTurn(params.sessionId);
    })
    .onRequest('session/set_mode', async ({ params }) => {
      const mode = ModeId.safeParse(params.modeId);
      if (!mode.success)
        throw RequestError.invalidParams(
          { modeId: params.modeId, modes: ModeId.options },
          `unknown mode "${params.modeId}"`,
        );
      await relay(daemon.request(SessionConfigure, { sessionId: params.sessionId, mode: mode.data }), params.sessionId);
      return {};
    })
    .onRequest('_shadowbox/review', { parse: (v: unknown) => sessionParams.parse(v) }, async ({ params }) => ({
      status: await relay(daemon.request(ShadowStatus, { sessionId: params.sessionId }), params.sessionId),
      diff: await relay(daemon.request(ShadowDiff, { sessionId: params.sessionId }), params.sessionId),
    }))
    .onRequest('_shadowbox/accept', { parse: (v: unknown) => selection.parse(v) }, ({ params }) =>
      relay(daemon.request(ShadowAccept, params), params.sessionId),
    )
    .onRequest('_shadowbox/reject', { parse: (v: unknown) => selection.parse(v) }, ({ params }) =>
      relay(
        daemon.request(ShadowReject, { sessionId: params.sessionId, paths: params.paths, hunks: params.hunks }),
        params.sessionId,
      ),
    )
    .onRequest('_shadowbox/undo', { parse: (v: unknown) => sessionParams.parse(v) }, ({ params }) =>
      relay(daemon.request(ShadowUndo, params), params.sessionId),
    );

  return {
    app,
    bind: (c) => {
      conn = c;
    },
  };
}
