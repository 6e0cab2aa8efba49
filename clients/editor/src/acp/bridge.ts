import { agent, RequestError, PROTOCOL_VERSION, type AgentApp, type AgentConnection, type ContentBlock, type SessionModeState, type SessionUpdate } from '@agentclientprotocol/sdk';
import {
  PolicySetRules,
  SessionAttach,
  SessionCancel,
  SessionConfigure,
  SessionCreate,
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
import { acpStopReason, notificationsFor, promptText, toAcpUpdates, type FileDiffText } from './map.js';

type Mode = 'read-only' | 'review' | 'auto';
const MODES: SessionModeState['availableModes'] = [
  { id: 'read-only', name: 'Read only', description: 'The agent may read and search; nothing else.' },
  { id: 'review', name: 'Review', description: 'Edits land in the shadow workspace for your review; network and MCP ask.' },
  { id: 'auto', name: 'Auto', description: 'Everything not denied runs without asking (edits still need review to reach your files).' },
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
  const chains = new Map<string, Promise<void>>();
  let conn: AgentConnection | undefined;
  let editorReadsFiles = false;

  const send = (sessionId: string, updates: SessionUpdate[]) => {
    if (!conn || updates.length === 0) return;
    const prev = chains.get(sessionId) ?? Promise.resolve();
    const next = prev.then(async () => {
      for (const n of notificationsFor(sessionId, updates)) await conn!.client.notify('session/update', n).catch((e: unknown) => o.log(`notify failed: ${(e as Error).message}`));
    });
    chains.set(sessionId, next);
  };
  const flush = (sessionId: string) => chains.get(sessionId) ?? Promise.resolve();

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
          for (const n of notificationsFor(e.sessionId, toAcpUpdates(e, ws, await pending))) await conn?.client.notify('session/update', n).catch(() => undefined);
        }),
      );
      return;
    }
    send(e.sessionId, toAcpUpdates(e, ws));
  });

  daemon.onPermission(async (p, signal) => {
    if (!conn) return { outcome: 'deny' };
    const res = await conn.client.request(
      'session/request_permission',
      {
        sessionId: p.sessionId,
        toolCall: { toolCallId: p.callId, title: p.summary, kind: p.kind, status: 'pending', rawInput: p.input, _meta: { shadowbox: { rule: p.rule, tool: p.tool } } },
        options: [
          { optionId: 'allow_once', name: 'Allow once', kind: 'allow_once' },
          { optionId: 'allow_always', name: 'Always allow in this project', kind: 'allow_always' },
          { optionId: 'reject_once', name: 'Deny', kind: 'reject_once' },
          { optionId: 'reject_always', name: 'Always deny in this project', kind: 'reject_always' },
        ],
      },
      { cancellationSignal: signal },
    );
    if (res.outcome.outcome !== 'selected') return { outcome: 'deny' };
    switch (res.outcome.optionId) {
      case 'allow_once':
        return { outcome: 'allow_once' };
      case 'allow_always':
        return { outcome: 'allow_project' };
      case 'reject_always': {
        const ws = workspaces.get(p.sessionId);
        if (ws) await daemon.request(PolicySetRules, { workspace: ws, add: [{ action: 'deny', tool: p.tool }] }).catch((e: unknown) => o.log(`could not persist reject_always: ${(e as Error).message}`));
        return { outcome: 'deny' };
      }
      default:
        return { outcome: 'deny' };
    }
  });

  const attach = async (sessionId: string, fromSeq: number) => {
    const r = await daemon.request(SessionAttach, { sessionId, driver: true, fromSeq });
    workspaces.set(sessionId, r.session.workspace);
    return r;
  };

  const sessionParams = z.object({ sessionId: z.string() });
  const selection = sessionParams.extend({ paths: z.array(z.string()).default([]), hunks: z.array(z.string()).default([]), force: z.boolean().default(false) });

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
          sessionCapabilities: { list: {} },
        },
        authMethods: [],
        _meta: { shadowbox: { review: '_shadowbox/review', accept: '_shadowbox/accept', reject: '_shadowbox/reject', undo: '_shadowbox/undo', editorBuffers: editorReadsFiles } },
      };
    })
    .onRequest('session/new', async ({ params }) => {
      const s = await daemon.request(SessionCreate, { workspace: params.cwd });
      workspaces.set(s.sessionId, s.workspace);
      return { sessionId: s.sessionId, modes: modes(s.mode) };
    })
    .onRequest('session/load', async ({ params }) => {
      const r = await attach(params.sessionId, 0);
      for (const e of r.history) send(params.sessionId, toAcpUpdates(e, r.session.workspace, [], true));
      await flush(params.sessionId);
      return { modes: modes(r.session.mode) };
    })
    .onRequest('session/list', async ({ params }) => {
      const { sessions } = await daemon.request(SessionList, params.cwd ? { workspace: params.cwd } : {});
      return { sessions: sessions.map((s) => ({ sessionId: s.sessionId, cwd: s.workspace, title: s.title || null, updatedAt: s.updatedAt })) };
    })
    .onRequest('session/prompt', async ({ params }) => {
      if (!workspaces.has(params.sessionId)) await attach(params.sessionId, Number.MAX_SAFE_INTEGER);
      const text = promptText(params.prompt as ContentBlock[]);
      if (!text.trim()) throw RequestError.invalidParams(undefined, 'the prompt has no text');
      const r = await daemon.request(SessionPrompt, { sessionId: params.sessionId, text });
      await flush(params.sessionId);
      if (r.stopReason === 'error') throw new RequestError(r.error?.code ?? -32603, r.error?.message ?? 'the turn failed', { reason: r.error?.reason });
      return { stopReason: acpStopReason(r.stopReason) };
    })
    .onNotification('session/cancel', async ({ params }) => {
      await daemon.request(SessionCancel, { sessionId: params.sessionId }).catch(() => undefined);
    })
    .onRequest('session/set_mode', async ({ params }) => {
      await daemon.request(SessionConfigure, { sessionId: params.sessionId, mode: params.modeId as Mode });
      return {};
    })
    .onRequest('_shadowbox/review', { parse: (v: unknown) => sessionParams.parse(v) }, async ({ params }) => ({
      status: await daemon.request(ShadowStatus, { sessionId: params.sessionId }),
      diff: await daemon.request(ShadowDiff, { sessionId: params.sessionId }),
    }))
    .onRequest('_shadowbox/accept', { parse: (v: unknown) => selection.parse(v) }, ({ params }) => daemon.request(ShadowAccept, params))
    .onRequest('_shadowbox/reject', { parse: (v: unknown) => selection.parse(v) }, ({ params }) => daemon.request(ShadowReject, { sessionId: params.sessionId, paths: params.paths, hunks: params.hunks }))
    .onRequest('_shadowbox/undo', { parse: (v: unknown) => sessionParams.parse(v) }, ({ params }) => daemon.request(ShadowUndo, params));

  return {
    app,
    bind: (c) => {
      conn = c;
    },
  };
}
