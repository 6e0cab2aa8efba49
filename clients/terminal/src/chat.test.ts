import { PassThrough } from 'node:stream';
import {
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { describe, expect, it } from 'vitest';
import { ShadowboxClient } from '@shadowbox/client';
import {
  Initialize,
  PermissionRequest,
  SessionAttach,
  SessionCancel,
  SessionCreate,
  SessionDetach,
  SessionEventNotification,
  SessionPrompt,
  ShadowAccept,
  ShadowDiff,
  ShadowStatus,
  type SessionEvent,
} from '@shadowbox/protocol';
import { chatCommand } from './index.js';
import type { TerminalIo } from './io.js';

/**
 * A scripted stand-in for the daemon on an in-memory stream pair (the real daemon is exercised by
 * the tmux tests in test/terminal): it answers the requests the chat makes and records them.
 */
function fakeDaemon() {
  const up = new PassThrough();
  const down = new PassThrough();
  const server: MessageConnection = createMessageConnection(new StreamMessageReader(up), new StreamMessageWriter(down));
  const clientConn = createMessageConnection(new StreamMessageReader(down), new StreamMessageWriter(up));
  const calls: Array<{ method: string; params: unknown }> = [];
  let seq = 0;
  const info = {
    sessionId: 's1',
    workspace: '/ws',
    model: 'openai/test',
    mode: 'review' as const,
    title: '',
    createdAt: '2026-01-01T00:00:00Z',
    updatedAt: '2026-01-01T00:00:00Z',
    state: 'idle' as const,
    driver: 'c1',
    attached: ['c1'],
    events: 0,
  };
  const emit = (event: SessionEvent['event']) =>
    server.sendNotification(SessionEventNotification.method, {
      sessionId: 's1',
      seq: seq++,
      time: new Date().toISOString(),
      event,
    });
  const record = (method: string) => (params: unknown) => void calls.push({ method, params });
  server.onRequest(
    Initialize.method,
    (p: unknown) => (
      record('initialize')(p),
      {
        protocolVersion: 1,
        daemonInfo: { name: 'shadowbox', version: '0', pid: 1 },
        clientId: 'c1',
        capabilities: { transports: ['socket'], providers: [], maxMessageBytes: 1e6, wasiRunners: [] },
      }
    ),
  );
  server.onNotification('initialized', () => {});
  server.onRequest(SessionCreate.method, (p: unknown) => (record('session/create')(p), info));
  server.onRequest(SessionAttach.method, async (p: unknown) => {
    record('session/attach')(p);
    const history: SessionEvent[] = [
      {
        sessionId: 's1',
        seq: seq++,
        time: new Date().toISOString(),
        event: { type: 'session_created', workspace: '/ws', model: 'openai/test', mode: 'review' },
      },
    ];
    return { session: info, history };
  });
  server.onRequest(SessionDetach.method, (p: unknown) => (record('session/detach')(p), null));
  server.onRequest(SessionCancel.method, (p: unknown) => (record('session/cancel')(p), { cancelled: false }));
  server.onRequest(ShadowStatus.method, () => ({
    sessionId: 's1',
    workspace: '/ws',
    files: [{ path: 'a.txt', change: 'modified', binary: false, stale: false, hunks: 2 }],
    commits: [],
    undoable: 0,
  }));
  server.onRequest(ShadowDiff.method, () => ({
    sessionId: 's1',
    files: [
      {
        path: 'a.txt',
        change: 'modified',
        binary: false,
        stale: false,
        patch: '',
        hunks: [
          {
            id: 'a.txt#aa11',
            header: '@@ -1 +1 @@',
            oldStart: 1,
            oldLines: 1,
            newStart: 1,
            newLines: 1,
            lines: ['-one', '+ONE'],
          },
        ],
      },
    ],
  }));
  server.onRequest(
    ShadowAccept.method,
    (p: unknown) => (
      record('shadow/accept')(p),
      { acceptId: 'acc1', applied: [{ path: 'a.txt', action: 'written' }], conflicts: [] }
    ),
  );
  server.onRequest(SessionPrompt.method, async (p: unknown) => {
    record('session/prompt')(p);
    const turnId = 'turn1';
    await emit({ type: 'user_message', turnId, text: (p as { text: string }).text, clientId: 'c1' });
    await emit({ type: 'turn_start', turnId, model: 'openai/test' });
    await emit({ type: 'message_delta', turnId, text: 'I will run the tests.\n' });
    await emit({
      type: 'tool_call',
      turnId,
      callId: 'k1',
      tool: 'bash',
      kind: 'execute',
      summary: 'npm test',
      input: { command: 'npm test' },
      status: 'pending',
    });
    await emit({ type: 'tool_call_update', turnId, callId: 'k1', status: 'awaiting_permission' });
    const answer = await server.sendRequest(PermissionRequest.method, {
      sessionId: 's1',
      requestId: 'r1',
      callId: 'k1',
      tool: 'bash',
      kind: 'execute',
      summary: 'npm test',
      input: { command: 'npm test' },
      rule: 'mode:review kind:execute',
      options: ['allow_once', 'allow_session', 'allow_project', 'deny'],
    });
    record('permission answer')(answer);
    const outcome = (answer as { outcome: 'allow_session' }).outcome;
    await emit({ type: 'permission_resolved', requestId: 'r1', callId: 'k1', outcome, by: 'c1' });
    await emit({
      type: 'tool_call_update',
      turnId,
      callId: 'k1',
      status: 'completed',
      output: 'all 3 tests passed',
      durationMs: 420,
    });
    await emit({ type: 'message_delta', turnId, text: 'Done: **all green**.' });
    await emit({ type: 'turn_end', turnId, stopReason: 'end_turn' });
    return { turnId, stopReason: 'end_turn' };
  });
  server.listen();
  clientConn.listen();
  return { client: new ShadowboxClient(clientConn), calls, close: () => (server.dispose(), clientConn.dispose()) };
}

function pipeIo(input: string) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  const io: TerminalIo = { env: {}, cwd: '/ws', stdin, stdout, stderr: stdout };
  return { io, stdin, feed: (s: string) => stdin.write(s), end: () => stdin.end(input), out: () => out };
}

describe('chat over a piped stdin', () => {
  it('runs prompts and slash commands in order, answers the permission question from the next line, and detaches at the end', async () => {
    const d = fakeDaemon();
    const t = pipeIo('run the tests\ns\n/review\n/accept a.txt#aa11\n');
    const connect = async () => {
      await d.client.initialize({ name: 't', kind: 'terminal' }, { permissions: true });
      return d.client;
    };
    const done = chatCommand(t.io, ['--model', 'openai/test'], { connect });
    t.end();
    expect(await done).toBe(0);
    const out = t.out();
    expect(out).not.toMatch(/\x1b/);
    expect(d.calls.find((c) => c.method === 'session/create')?.params).toEqual({
      workspace: '/ws',
      model: 'openai/test',
    });
    expect(d.calls.find((c) => c.method === 'permission answer')?.params).toEqual({ outcome: 'allow_session' });
    expect(d.calls.find((c) => c.method === 'shadow/accept')?.params).toMatchObject({
      sessionId: 's1',
      paths: [],
      hunks: ['a.txt#aa11'],
      force: false,
    });
    expect(d.calls.at(-1)?.method).toBe('session/detach');
    const order = [
      '› run the tests',
      'I will run the tests.',
      '▸ execute bash npm test',
      '? permission execute bash npm test',
      'asked by rule: mode:review kind:execute',
      '→ allowed for this session by you',
      '✓ execute bash npm test · 420 ms',
      '│ all 3 tests passed',
      'Done: **all green**.',
      '— done',
      '› /review',
      '[a.txt#aa11]',
      '+ONE',
      '› /accept a.txt#aa11',
      '✓ written a.txt',
      'session s1 is kept by the daemon',
    ];
    let at = 0;
    for (const s of order) {
      const i = out.indexOf(s, at);
      expect(i, `"${s}" after position ${at} in:\n${out}`).toBeGreaterThanOrEqual(0);
      at = i;
    }
    d.close();
  });

  it('denies a permission question when the input ends before an answer', async () => {
    const d = fakeDaemon();
    const t = pipeIo('go\n');
    const connect = async () => (await d.client.initialize({ name: 't' }, { permissions: true }), d.client);
    const done = chatCommand(t.io, [], { connect });
    t.end();
    expect(await done).toBe(0);
    expect(d.calls.find((c) => c.method === 'permission answer')?.params).toEqual({ outcome: 'deny' });
    d.close();
  });

  it('tells a watching terminal to /drive before prompting, and /exit leaves', async () => {
    const d = fakeDaemon();
    const t = pipeIo('');
    const connect = async () => (await d.client.initialize({ name: 't' }, { permissions: true }), d.client);
    const { attachCommand } = await import('./index.js');
    // The fake reports c1 as driver; pretend another client drives by renaming ours.
    const done = attachCommand(t.io, ['s1'], {
      connect: async () => Object.assign(await connect(), { clientId: 'other' }),
    });
    t.stdin.end('hello\n/exit\nnot read\n');
    expect(await done).toBe(0);
    expect(t.out()).toContain('you are watching: c1 is driving — /drive to take over');
    expect(d.calls.some((c) => c.method === 'session/prompt')).toBe(false);
    expect(d.calls.find((c) => c.method === 'session/attach')?.params).toMatchObject({
      sessionId: 's1',
      driver: false,
    });
    d.close();
  });

  it('joins lines ending in a backslash into one prompt of several lines', async () => {
    const d = fakeDaemon();
    const t = pipeIo('first line\\\nsecond line\\\nthird\ny\n');
    const connect = async () => (await d.client.initialize({ name: 't' }, { permissions: true }), d.client);
    const done = chatCommand(t.io, [], { connect });
    t.end();
    expect(await done).toBe(0);
    const prompts = d.calls
      .filter((c) => c.method === 'session/prompt')
      .map((c) => (c.params as { text: string }).text);
    expect(prompts).toEqual(['first line\nsecond line\nthird']);
    d.close();
  });
});
