import { PassThrough } from 'node:stream';
import {
  client,
  RequestError,
  type AnyMessage,
  type RequestPermissionRequest,
  type RequestPermissionResponse,
  type SessionNotification,
} from '@agentclientprotocol/sdk';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ErrorCodes,
  PermissionRequest,
  PolicySetRules,
  SessionAttach,
  SessionCancel,
  SessionConfigure,
  SessionCreate,
  SessionDetach,
  SessionEventNotification,
  SessionList,
  SessionPrompt,
  ShadowAccept,
  ShadowFile,
  type SessionEvent,
} from '@shadowbox/protocol';
import { ShadowboxClient } from '../client.js';
import { createAcpAgent } from './bridge.js';

type EventBody = SessionEvent['event'];
type PromptResult = {
  turnId: string;
  stopReason: 'end_turn' | 'cancelled' | 'error' | 'max_turns';
  error?: { code: number; reason: string; message: string };
};

/** What a scripted turn can do: emit events, ask the bridge a permission question, see a cancel. */
interface TurnControl {
  emit(event: EventBody): Promise<void>;
  ask(q: { callId: string; tool: string; kind: 'edit' | 'execute'; summary: string; input: unknown }): {
    answer: Promise<{ outcome: string }>;
    withdraw(): void;
  };
  cancelled: Promise<void>;
}

/**
 * A scripted stand-in for the daemon on an in-memory stream pair (the real daemon is driven by
 * test/acp): it answers what the bridge asks, records every call, and plays a turn per test.
 */
function fakeDaemon(
  play: (text: string, t: TurnControl) => Promise<PromptResult> = async () => ({ turnId: 't', stopReason: 'end_turn' }),
) {
  const up = new PassThrough();
  const down = new PassThrough();
  const server: MessageConnection = createMessageConnection(new StreamMessageReader(up), new StreamMessageWriter(down));
  const clientConn = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  const calls: Array<{ method: string; params: Record<string, unknown> }> = [];
  const record = (method: string, params: unknown) =>
    void calls.push({ method, params: params as Record<string, unknown> });
  let seq = 0;
  let mode: 'read-only' | 'review' | 'auto' = 'review';
  const info = (sessionId: string) => ({
    sessionId,
    workspace: '/ws',
    model: 'openai/test',
    mode,
    title: 'fix it',
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-02T00:00:00Z',
    state: 'idle' as const,
    driver: 'c1',
    attached: ['c1'],
    events: seq,
  });
  const event = (sessionId: string, body: EventBody): SessionEvent => ({
    sessionId,
    seq: seq++,
    time: '2026-01-01T00:00:00Z',
    event: body,
  });
  const emit = (sessionId: string, body: EventBody) =>
    server.sendNotification(SessionEventNotification.method, event(sessionId, body));
  let onCancel = () => {};

  server.onRequest(SessionCreate.method, (p: { workspace: string }) => (record('session/create', p), info('s1')));
  server.onRequest(
    SessionList.method,
    (p: unknown) => (record('session/list', p), { sessions: [info('s1'), { ...info('s0'), title: '' }] }),
  );
  server.onRequest(SessionAttach.method, (p: { sessionId: string; fromSeq: number }) => {
    record('session/attach', p);
    if (p.sessionId === 'gone')
      throw new ResponseError(ErrorCodes.SessionNotFound, 'no session gone', { reason: 'session_not_found' });
    const history = [
      event(p.sessionId, { type: 'session_created', workspace: '/ws', model: 'openai/test', mode: 'review' }),
      event(p.sessionId, { type: 'user_message', turnId: 't0', text: 'earlier question', clientId: 'c0' }),
      event(p.sessionId, { type: 'turn_start', turnId: 't0', model: 'openai/test' }),
      event(p.sessionId, { type: 'message_delta', turnId: 't0', text: 'earlier ' }),
      event(p.sessionId, { type: 'message_delta', turnId: 't0', text: 'answer' }),
      event(p.sessionId, { type: 'turn_end', turnId: 't0', stopReason: 'end_turn' }),
    ].filter((e) => e.seq >= p.fromSeq);
    return { session: info(p.sessionId), history };
  });
  server.onRequest(SessionDetach.method, (p: unknown) => (record('session/detach', p), null));
  server.onRequest(SessionConfigure.method, async (p: { sessionId: string; mode?: typeof mode }) => {
    record('session/configure', p);
    if (p.mode) mode = p.mode;
    await emit(p.sessionId, { type: 'settings_changed', model: 'openai/test', mode });
    return info(p.sessionId);
  });
  server.onRequest(
    SessionCancel.method,
    (p: unknown) => (record('session/cancel', p), onCancel(), { cancelled: true }),
  );
  server.onRequest(
    ShadowFile.method,
    (p: { path: string }) => (
      record('shadow/file', p),
      { path: p.path, real: 'old line\n', shadow: 'new line\n', binary: false }
    ),
  );
  server.onRequest(PolicySetRules.method, (p: unknown) => (record('policy/set', p), { rules: [] }));
  server.onRequest(
    ShadowAccept.method,
    (p: unknown) => (
      record('shadow/accept', p),
      { acceptId: 'acc1', applied: [{ path: 'a.txt', action: 'written' }], conflicts: [] }
    ),
  );
  server.onRequest(SessionPrompt.method, async (p: { sessionId: string; text: string }) => {
    record('session/prompt', p);
    const cancelled = new Promise<void>((resolve) => (onCancel = resolve));
    let n = 0;
    const t: TurnControl = {
      emit: (body) => emit(p.sessionId, body),
      ask: (q) => {
        const source = new CancellationTokenSource();
        const requestId = `r${++n}`;
        const answer = server.sendRequest<{ outcome: string }>(
          PermissionRequest.method,
          {
            sessionId: p.sessionId,
            requestId,
            rule: 'mode:review kind:edit',
            options: ['allow_once', 'allow_session', 'allow_project', 'deny'],
            ...q,
          },
          source.token,
        );
        void answer.then(
          (a) => record('permission answer', a),
          (e: Error) => record('permission error', { message: e.message }),
        );
        return { answer, withdraw: () => source.cancel() };
      },
      cancelled,
    };
    return play(p.text, t);
  });
  server.listen();
  clientConn.listen();
  return {
    client: new ShadowboxClient(clientConn),
    calls,
    of: (m: string) => calls.filter((c) => c.method === m).map((c) => c.params),
    close: () => (server.dispose(), clientConn.dispose()),
  };
}

type PermissionHandler = (p: RequestPermissionRequest, signal: AbortSignal) => Promise<RequestPermissionResponse>;

/** The bridge under test, wired to an ACP client app (the editor side) over an in-memory message pair. */
function editorWith(
  daemon: ReturnType<typeof fakeDaemon>,
  onPermission: PermissionHandler = async () => ({ outcome: { outcome: 'cancelled' } }),
  /** The daemon link as the bridge gets it on a cold start: a promise (default: the client, already up). */
  link: ShadowboxClient | Promise<ShadowboxClient> = daemon.client,
) {
  const updates: SessionNotification[] = [];
  // The slash commands every session advertises are kept apart (their own test checks them).
  const commands: SessionNotification[] = [];
  const permissions: RequestPermissionRequest[] = [];
  const logs: string[] = [];
  const { app, bind } = createAcpAgent({ daemon: link, log: (m) => logs.push(m), version: '9.9.9' });
  const toEditor = new TransformStream<AnyMessage, AnyMessage>();
  const toAgent = new TransformStream<AnyMessage, AnyMessage>();
  bind(app.connect({ writable: toEditor.writable, readable: toAgent.readable }));
  const editor = client({ name: 'editor' })
    .onNotification(
      'session/update',
      ({ params }) =>
        void (params.update.sessionUpdate === 'available_commands_update' ? commands : updates).push(params),
    )
    .onRequest(
      'session/request_permission',
      ({ params, signal }) => (permissions.push(params), onPermission(params, signal)),
    )
    .connect({ writable: toAgent.writable, readable: toEditor.readable });
  return {
    agent: editor.agent,
    updates,
    commands,
    permissions,
    logs,
    kinds: () => updates.map((u) => u.update.sessionUpdate),
    close: () => editor.close(),
  };
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});
/** A scripted daemon, the bridge and an editor that has sent initialize (the SDK refuses anything before it). */
async function setup(play?: Parameters<typeof fakeDaemon>[0], onPermission?: PermissionHandler) {
  const d = fakeDaemon(play);
  const e = editorWith(d, onPermission);
  cleanups.push(
    () => e.close(),
    () => d.close(),
  );
  await e.agent.request('initialize', { protocolVersion: 1, clientCapabilities: {} });
  return { d, e };
}

describe('ACP bridge (in memory, scripted daemon)', () => {
  it('initialize: protocol version, agent info, capabilities and the extension methods', async () => {
    const d = fakeDaemon();
    const e = editorWith(d);
    cleanups.push(
      () => e.close(),
      () => d.close(),
    );
    const r = await e.agent.request('initialize', {
      protocolVersion: 1,
      clientCapabilities: { fs: { readTextFile: true, writeTextFile: false } },
    });
    expect(r.protocolVersion).toBe(1);
    expect(r.agentInfo).toEqual({ name: 'shadowbox', title: 'shadowbox', version: '9.9.9' });
    expect(r.agentCapabilities).toMatchObject({
      loadSession: true,
      promptCapabilities: { image: true, audio: false, embeddedContext: true },
      mcpCapabilities: { http: true, sse: false },
      sessionCapabilities: { list: {}, resume: {}, close: {} },
    });
    expect(r.authMethods).toEqual([]);
    expect(r._meta).toEqual({
      shadowbox: {
        review: '_shadowbox/review',
        accept: '_shadowbox/accept',
        reject: '_shadowbox/reject',
        undo: '_shadowbox/undo',
        editorBuffers: true,
      },
    });
  });

  it('answers initialize while the daemon link is still coming up; session requests wait for the link', async () => {
    const d = fakeDaemon();
    let linkUp!: (c: ShadowboxClient) => void;
    const e = editorWith(d, undefined, new Promise<ShadowboxClient>((r) => (linkUp = r)));
    cleanups.push(
      () => e.close(),
      () => d.close(),
    );
    const r = await e.agent.request('initialize', { protocolVersion: 1, clientCapabilities: {} });
    expect(r.protocolVersion).toBe(1);
    let listed = false;
    const list = e.agent.request('session/list', {}).then((x) => ((listed = true), x));
    for (let i = 0; i < 20; i++) await new Promise((res) => setImmediate(res));
    expect(listed).toBe(false);
    expect(d.of(SessionList.method)).toEqual([]);
    linkUp(d.client);
    await list;
    expect(d.of(SessionList.method)).toHaveLength(1);
  });

  it('a prompt turn: text and thought chunks, tool_call, permission (allow_always → allow_project), tool_call_update with a diff, end_turn after every update', async () => {
    const { d, e } = await setup(
      async (text, t) => {
        await t.emit({ type: 'user_message', turnId: 't1', text, clientId: 'c1' });
        await t.emit({ type: 'turn_start', turnId: 't1', model: 'openai/test' });
        await t.emit({ type: 'reasoning_delta', turnId: 't1', text: 'Edit a.txt.' });
        await t.emit({ type: 'message_delta', turnId: 't1', text: 'Editing ' });
        await t.emit({ type: 'message_delta', turnId: 't1', text: 'a.txt.' });
        await t.emit({
          type: 'tool_call',
          turnId: 't1',
          callId: 'k1',
          tool: 'edit_file',
          kind: 'edit',
          summary: 'edit a.txt',
          input: { path: 'a.txt' },
          status: 'pending',
        });
        await t.emit({ type: 'tool_call_update', turnId: 't1', callId: 'k1', status: 'awaiting_permission' });
        const a = await t.ask({
          callId: 'k1',
          tool: 'edit_file',
          kind: 'edit',
          summary: 'edit a.txt',
          input: { path: 'a.txt' },
        }).answer;
        expect(a).toEqual({ outcome: 'allow_project' });
        await t.emit({ type: 'tool_call_update', turnId: 't1', callId: 'k1', status: 'running' });
        await t.emit({
          type: 'tool_call_update',
          turnId: 't1',
          callId: 'k1',
          status: 'completed',
          content: 'edited a.txt',
          changed: ['a.txt'],
        });
        await t.emit({ type: 'message_delta', turnId: 't1', text: 'Done.' });
        await t.emit({ type: 'turn_end', turnId: 't1', stopReason: 'end_turn' });
        return { turnId: 't1', stopReason: 'end_turn' };
      },
      async (p) => ({
        outcome: { outcome: 'selected', optionId: p.options.find((o) => o.kind === 'allow_always')!.optionId },
      }),
    );
    const s = await e.agent.request('session/new', { cwd: '/ws', mcpServers: [] });
    expect(s.sessionId).toBe('s1');
    expect(s.modes?.currentModeId).toBe('review');
    expect(s.modes?.availableModes.map((m) => m.id)).toEqual(['read-only', 'review', 'auto']);
    expect(d.of('session/create')).toEqual([{ workspace: '/ws' }]);

    const r = await e.agent.request('session/prompt', {
      sessionId: 's1',
      prompt: [{ type: 'text', text: 'fix a.txt' }],
    });
    expect(r.stopReason).toBe('end_turn');
    // Every update of the turn reached the editor before the prompt answered, in order.
    expect(e.kinds()).toEqual([
      'agent_thought_chunk',
      'agent_message_chunk',
      'agent_message_chunk',
      'tool_call',
      'tool_call_update',
      'tool_call_update',
      'tool_call_update',
      'tool_call_update',
      'agent_message_chunk',
    ]);
    expect(e.updates[4].update).toEqual({ sessionUpdate: 'tool_call_update', toolCallId: 'k1', status: 'pending' });
    expect(e.updates.every((u) => u.sessionId === 's1')).toBe(true);
    expect(e.updates[3].update).toMatchObject({
      sessionUpdate: 'tool_call',
      toolCallId: 'k1',
      kind: 'edit',
      status: 'pending',
      title: 'edit a.txt',
      locations: [{ path: '/ws/a.txt' }],
    });
    // in_progress twice: once by the bridge when the editor allowed, once from the daemon's running.
    expect(e.updates[5].update).toEqual({
      sessionUpdate: 'tool_call_update',
      toolCallId: 'k1',
      status: 'in_progress',
    });
    expect(e.updates[6].update).toEqual({
      sessionUpdate: 'tool_call_update',
      toolCallId: 'k1',
      status: 'in_progress',
    });
    expect(e.updates[7].update).toMatchObject({
      sessionUpdate: 'tool_call_update',
      toolCallId: 'k1',
      status: 'completed',
      content: [
        { type: 'diff', path: '/ws/a.txt', oldText: 'old line\n', newText: 'new line\n' },
        { type: 'content', content: { type: 'text', text: 'edited a.txt' } },
      ],
      locations: [{ path: '/ws/a.txt' }],
    });
    expect(d.of('shadow/file')).toEqual([{ sessionId: 's1', path: 'a.txt' }]);

    expect(e.permissions).toHaveLength(1);
    const q = e.permissions[0];
    expect(q.sessionId).toBe('s1');
    expect(q.toolCall).toMatchObject({
      toolCallId: 'k1',
      title: 'edit a.txt',
      kind: 'edit',
      locations: [{ path: '/ws/a.txt' }],
      _meta: { shadowbox: { rule: 'mode:review kind:edit', tool: 'edit_file', requestId: 'r1' } },
    });
    expect(q.options.map((o) => o.kind)).toEqual(['allow_once', 'allow_always', 'reject_once', 'reject_always']);
    expect(d.of('policy/set')).toEqual([]);
  });

  it('allow_once and reject_once answer once; reject_always also adds a project deny rule for the tool', async () => {
    const answers = ['allow_once', 'reject_once', 'reject_always'];
    const { d, e } = await setup(
      async (_text, t) => {
        for (const k of ['k1', 'k2', 'k3'])
          await t.ask({ callId: k, tool: 'run_bundle', kind: 'execute', summary: 'run', input: {} }).answer;
        return { turnId: 't1', stopReason: 'end_turn' };
      },
      async () => ({ outcome: { outcome: 'selected', optionId: answers.shift()! } }),
    );
    await e.agent.request('session/new', { cwd: '/ws', mcpServers: [] });
    await e.agent.request('session/prompt', { sessionId: 's1', prompt: [{ type: 'text', text: 'go' }] });
    expect(d.of('permission answer')).toEqual([{ outcome: 'allow_once' }, { outcome: 'deny' }, { outcome: 'deny' }]);
    expect(d.of('policy/set')).toEqual([{ workspace: '/ws', add: [{ action: 'deny', tool: 'run_bundle' }] }]);
  });

  it('an editor that fails the permission question (an error, not an answer) denies, so the turn goes on', async () => {
    const { d, e } = await setup(
      async (_text, t) => {
        await t.ask({
          callId: 'k1',
          tool: 'write_file',
          kind: 'edit',
          summary: 'write b.txt',
          input: { path: 'b.txt' },
        }).answer;
        return { turnId: 't1', stopReason: 'end_turn' };
      },
      async () => {
        throw new Error('the editor could not show the question');
      },
    );
    await e.agent.request('session/new', { cwd: '/ws', mcpServers: [] });
    expect(
      (await e.agent.request('session/prompt', { sessionId: 's1', prompt: [{ type: 'text', text: 'go' }] })).stopReason,
    ).toBe('end_turn');
    expect(d.of('permission answer')).toEqual([{ outcome: 'deny' }]);
    expect(e.logs.join('\n')).toContain('failed in the editor, denying');
  });

  it('session/cancel while a question is open: the daemon withdraws it, the editor’s request is cancelled, the prompt ends cancelled', async () => {
    let editorSawAbort = false;
    const { d, e } = await setup(
      async (_text, t) => {
        await t.emit({ type: 'message_delta', turnId: 't1', text: 'Working' });
        const q = t.ask({
          callId: 'k1',
          tool: 'edit_file',
          kind: 'edit',
          summary: 'edit a.txt',
          input: { path: 'a.txt' },
        });
        await t.cancelled;
        q.withdraw();
        await q.answer.catch(() => undefined);
        // The daemon ends a cancelled turn with an error here: ACP still wants stopReason cancelled.
        return {
          turnId: 't1',
          stopReason: 'error',
          error: { code: -33602, reason: 'provider_unavailable', message: 'stream aborted' },
        };
      },
      (_p, signal) =>
        new Promise((resolve) => {
          signal.addEventListener(
            'abort',
            () => ((editorSawAbort = true), resolve({ outcome: { outcome: 'cancelled' } })),
          );
        }),
    );
    await e.agent.request('session/new', { cwd: '/ws', mcpServers: [] });
    const prompt = e.agent.request('session/prompt', { sessionId: 's1', prompt: [{ type: 'text', text: 'go' }] });
    await expect.poll(() => e.permissions.length).toBe(1);
    await e.agent.notify('session/cancel', { sessionId: 's1' });
    expect((await prompt).stopReason).toBe('cancelled');
    expect(d.of('session/cancel')).toEqual([{ sessionId: 's1' }]);
    await expect.poll(() => editorSawAbort).toBe(true);
    expect(e.kinds()).toEqual(['agent_message_chunk']);
  });

  it('a failed turn becomes a JSON-RPC error carrying the daemon code and reason', async () => {
    const { e } = await setup(async () => ({
      turnId: 't1',
      stopReason: 'error',
      error: { code: ErrorCodes.ProviderAuth, reason: 'provider_auth', message: 'bad key' },
    }));
    await e.agent.request('session/new', { cwd: '/ws', mcpServers: [] });
    const err = await e.agent
      .request('session/prompt', { sessionId: 's1', prompt: [{ type: 'text', text: 'go' }] })
      .catch((x: unknown) => x);
    expect(err).toBeInstanceOf(RequestError);
    expect(err).toMatchObject({ code: ErrorCodes.ProviderAuth, message: 'bad key', data: { reason: 'provider_auth' } });
  });

  it('maps max_turns to max_turn_requests', async () => {
    const { e } = await setup(async () => ({ turnId: 't1', stopReason: 'max_turns' }));
    await e.agent.request('session/new', { cwd: '/ws', mcpServers: [] });
    expect(
      (await e.agent.request('session/prompt', { sessionId: 's1', prompt: [{ type: 'text', text: 'go' }] })).stopReason,
    ).toBe('max_turn_requests');
  });

  it('rejects a prompt with no text before it reaches the daemon', async () => {
    const { d, e } = await setup();
    await e.agent.request('session/new', { cwd: '/ws', mcpServers: [] });
    const err = await e.agent
      .request('session/prompt', { sessionId: 's1', prompt: [{ type: 'image', data: 'AAAA', mimeType: 'image/png' }] })
      .catch((x: unknown) => x);
    expect(err).toMatchObject({ code: -32602 });
    expect(d.of('session/prompt')).toEqual([]);
  });

  it('session/load replays the history (the person’s and the agent’s messages) before it answers', async () => {
    const { d, e } = await setup();
    const r = await e.agent.request('session/load', { sessionId: 's7', cwd: '/ws', mcpServers: [] });
    expect(r?.modes?.currentModeId).toBe('review');
    expect(d.of('session/attach')).toEqual([{ sessionId: 's7', driver: true, fromSeq: 0 }]);
    // No servers given and none on the session: nothing to change.
    expect(d.of('session/configure')).toEqual([]);
    expect(
      e.updates.map((u) => [
        u.sessionId,
        u.update.sessionUpdate,
        (u.update as { content: { text: string } }).content.text,
      ]),
    ).toEqual([
      ['s7', 'user_message_chunk', 'earlier question'],
      ['s7', 'agent_message_chunk', 'earlier '],
      ['s7', 'agent_message_chunk', 'answer'],
    ]);
  });

  it('the editor’s MCP servers: session/new passes them to session/create; session/load replaces the session’s with session/configure', async () => {
    const { d, e } = await setup();
    const fx = { name: 'Fixture', command: '/usr/bin/node', args: ['fx.mjs'], env: [{ name: 'K', value: 'v' }] };
    await e.agent.request('session/new', { cwd: '/ws', mcpServers: [fx] });
    expect(d.of('session/create')).toEqual([
      {
        workspace: '/ws',
        mcpServers: { fixture: { command: '/usr/bin/node', args: ['fx.mjs'], env: { K: 'v' }, cwd: '/ws' } },
      },
    ]);
    await e.agent.request('session/load', {
      sessionId: 's7',
      cwd: '/ws',
      mcpServers: [{ type: 'http', name: 'docs', url: 'http://127.0.0.1:9/mcp', headers: [] }],
    });
    expect(d.of('session/configure')).toEqual([
      { sessionId: 's7', mcpServers: { docs: { url: 'http://127.0.0.1:9/mcp', headers: {} } } },
    ]);
  });

  it('session/resume attaches without replaying; session/close detaches', async () => {
    const { d, e } = await setup();
    await e.agent.request('session/resume', { sessionId: 's7', cwd: '/ws' });
    expect(e.updates).toEqual([]);
    expect(d.of('session/attach')[0]).toMatchObject({ sessionId: 's7', driver: true });
    await e.agent.request('session/close', { sessionId: 's7' });
    expect(d.of('session/detach')).toEqual([{ sessionId: 's7' }]);
  });

  it('session/list reports cwd, title (null when empty) and updatedAt, filtered by cwd', async () => {
    const { d, e } = await setup();
    const r = await e.agent.request('session/list', { cwd: '/ws' });
    expect(r.sessions).toEqual([
      { sessionId: 's1', cwd: '/ws', title: 'fix it', updatedAt: '2026-01-02T00:00:00Z' },
      { sessionId: 's0', cwd: '/ws', title: null, updatedAt: '2026-01-02T00:00:00Z' },
    ]);
    expect(d.of('session/list')).toEqual([{ workspace: '/ws' }]);
  });

  it('session/set_mode changes the policy mode and the editor hears current_mode_update; an unknown mode is invalid params', async () => {
    const { d, e } = await setup();
    await e.agent.request('session/new', { cwd: '/ws', mcpServers: [] });
    await e.agent.request('session/set_mode', { sessionId: 's1', modeId: 'auto' });
    expect(d.of('session/configure')).toEqual([{ sessionId: 's1', mode: 'auto' }]);
    await expect
      .poll(() => e.updates.map((u) => u.update))
      .toEqual([{ sessionUpdate: 'current_mode_update', currentModeId: 'auto' }]);
    const err = await e.agent.request('session/set_mode', { sessionId: 's1', modeId: 'yolo' }).catch((x: unknown) => x);
    expect(err).toMatchObject({ code: -32602, data: { modeId: 'yolo' } });
    expect(d.of('session/configure')).toHaveLength(1);
  });

  it('an unknown session is ACP "resource not found" (-32002) with the daemon reason', async () => {
    const { e } = await setup();
    const err = await e.agent
      .request('session/load', { sessionId: 'gone', cwd: '/ws', mcpServers: [] })
      .catch((x: unknown) => x);
    expect(err).toMatchObject({ code: -32002, data: { sessionId: 'gone', reason: 'session_not_found' } });
  });

  it('_shadowbox/accept relays the selection to shadow/accept; bad params are invalid params', async () => {
    const { d, e } = await setup();
    const r = await e.agent.request('_shadowbox/accept', { sessionId: 's1', hunks: ['a.txt#ab12'] });
    expect(r).toEqual({ acceptId: 'acc1', applied: [{ path: 'a.txt', action: 'written' }], conflicts: [] });
    expect(d.of('shadow/accept')).toEqual([{ sessionId: 's1', paths: [], hunks: ['a.txt#ab12'], force: false }]);
    const err = await e.agent.request('_shadowbox/accept', { paths: 'a.txt' }).catch((x: unknown) => x);
    expect(err).toMatchObject({ code: -32602 });
    const unknown = await e.agent.request('_shadowbox/explode', {}).catch((x: unknown) => x);
    expect(unknown).toMatchObject({ code: -32601 });
  });
});
