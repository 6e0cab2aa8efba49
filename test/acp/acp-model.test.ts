// `shadowbox acp` driving a full task: the real binary on stdio, the ACP SDK's client side as the
// editor, a real daemon with real providers, tools, policy and shadow against the scripted model server.
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSocket } from '@shadowbox/client';
import { AuditQuery, DaemonStatus, PolicySetRules, SessionList, ToolsCall } from '@shadowbox/protocol';
import type { SessionNotification, ToolCallContent } from '@agentclientprotocol/sdk';
import { makeTempDir, startTestDaemon, type TestDaemon, until } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { connectEditor, type AcpEditor } from './editor.js';

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
const textOf = (us: SessionNotification[], kind: string) =>
  us
    .filter((u) => u.update.sessionUpdate === kind)
    .map((u) => (u.update as { content: { type: string; text?: string } }).content.text ?? '')
    .join('');
type Update = SessionNotification['update'];
const toolUpdates = (us: SessionNotification[], id: string) =>
  us
    .map((u) => u.update)
    .filter(
      (u): u is Extract<Update, { sessionUpdate: 'tool_call_update' }> =>
        u.sessionUpdate === 'tool_call_update' && u.toolCallId === id,
    );

describe('shadowbox acp with a model', () => {
  let model: ModelServer;
  let d: TestDaemon;
  let ws: string;
  const editors: AcpEditor[] = [];
  const editor = async () => {
    const e = connectEditor(d.env);
    editors.push(e);
    await e.agent.request('initialize', {
      protocolVersion: 1,
      clientCapabilities: { fs: { readTextFile: false, writeTextFile: false } },
    });
    return e;
  };
  let sessionId = '';

  beforeAll(async () => {
    model = await startModelServer();
    d = await startTestDaemon({ web: false, env: openaiEnv(model) });
    ws = await makeTempDir('acpws');
    await writeFile(path.join(ws, 'a.txt'), 'hello\n');
    // A person's project rules (`shadowbox policy ask --tool …`): these edits ask even in review mode.
    const admin = await d.connect('admin');
    await admin.request(PolicySetRules, {
      workspace: ws,
      add: [
        { action: 'ask', tool: 'edit_file' },
        { action: 'ask', tool: 'write_file' },
      ],
    });
    admin.dispose();
  });
  afterAll(async () => {
    for (const e of editors) await e.proc.kill();
    await d?.stop();
    await d?.cleanup();
    await model?.close();
    if (ws) await rm(ws, { recursive: true, force: true });
  });

  it('a full task: streamed text, tool calls, permission allow_once then reject_once, a diff from the shadow, end_turn; the real file changes only on _shadowbox/accept', async () => {
    const e = await editor();
    const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
    sessionId = s.sessionId;
    const answers = ['allow_once', 'reject_once'];
    e.answerWith(async (q) => {
      const kind = answers.shift();
      return { outcome: { outcome: 'selected', optionId: q.options.find((o) => o.kind === kind)!.optionId } };
    });
    model.push(
      {
        reasoning: ['The greeting ', 'should shout.'],
        text: ['I will ', 'edit a.txt.'],
        toolCalls: [{ name: 'edit_file', arguments: { path: 'a.txt', old_string: 'hello', new_string: 'HELLO' } }],
      },
      {
        text: ['And add ', 'b.txt.'],
        toolCalls: [{ name: 'write_file', arguments: { path: 'b.txt', content: 'new\n' } }],
      },
      { text: ['Done: a.txt ', 'shouts.'] },
    );
    const r = await e.agent.request('session/prompt', {
      sessionId,
      prompt: [{ type: 'text', text: 'make a.txt shout' }],
    });
    expect(r.stopReason).toBe('end_turn');

    const mine = e.updates.filter((u) => u.sessionId === sessionId);
    expect(textOf(mine, 'agent_message_chunk')).toBe('I will edit a.txt.And add b.txt.Done: a.txt shouts.');
    expect(textOf(mine, 'agent_thought_chunk')).toBe('The greeting should shout.');
    expect(mine.filter((u) => u.update.sessionUpdate === 'agent_message_chunk').length).toBeGreaterThanOrEqual(6);
    expect(textOf(mine, 'user_message_chunk')).toBe('');

    const calls = mine
      .map((u) => u.update)
      .filter((u): u is Extract<Update, { sessionUpdate: 'tool_call' }> => u.sessionUpdate === 'tool_call');
    expect(calls.map((c) => [c.name, c.kind, c.status])).toEqual([
      ['edit_file', 'edit', 'pending'],
      ['write_file', 'edit', 'pending'],
    ]);
    expect(calls[0].locations?.map((l) => path.isAbsolute(l.path) && path.basename(l.path))).toEqual(['a.txt']);

    // Both calls asked; the questions name the calls the editor was told about. A project ask rule asked them, so
    // no "always allow" is offered (it could not silence the rule); "always deny" is (a deny rule beats it).
    expect(e.permissions.map((q) => [q.toolCall.toolCallId, q.options.map((o) => o.kind)])).toEqual([
      [calls[0].toolCallId, ['allow_once', 'reject_once', 'reject_always']],
      [calls[1].toolCallId, ['allow_once', 'reject_once', 'reject_always']],
    ]);

    // The allowed edit completed with a diff taken from the shadow workspace.
    const first = toolUpdates(mine, calls[0].toolCallId);
    // pending while the person was asked, in_progress once allowed (the bridge on the answer, then the daemon's
    // `running` when the call really starts), then completed.
    const statuses = first.map((u) => u.status).filter((s, i, all) => s !== all[i - 1]);
    expect(statuses.slice(-3)).toEqual(['pending', 'in_progress', 'completed']);
    const done = first.find((u) => u.status === 'completed');
    expect(done, JSON.stringify(first)).toBeTruthy();
    const diff = done!.content!.find((c): c is Extract<ToolCallContent, { type: 'diff' }> => c.type === 'diff');
    expect(diff).toMatchObject({ oldText: 'hello\n', newText: 'HELLO\n' });
    expect(path.isAbsolute(diff!.path) && diff!.path.endsWith('/a.txt')).toBe(true);
    expect(done!.locations?.map((l) => path.basename(l.path))).toEqual(['a.txt']);
    // The rejected write failed and never reached the shadow.
    const second = toolUpdates(mine, calls[1].toolCallId);
    expect(second.map((u) => u.status).slice(-2)).toEqual(['pending', 'failed']);
    expect(second.at(-1)?.rawOutput).toMatchObject({ reason: 'user_denied' });

    // Every update came before the prompt's answer; the real file is untouched.
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('hello\n');
    expect(await exists(path.join(ws, 'b.txt'))).toBe(false);

    const review = await e.agent.request<{
      status: { files: Array<{ path: string; change: string }> };
      diff: { files: Array<{ path: string; hunks: Array<{ id: string }> }> };
    }>('_shadowbox/review', { sessionId });
    expect(review.status.files).toEqual([expect.objectContaining({ path: 'a.txt', change: 'modified' })]);
    expect(review.diff.files[0].hunks.length).toBeGreaterThan(0);

    const accepted = await e.agent.request<{ applied: Array<{ path: string }> }>('_shadowbox/accept', {
      sessionId,
      paths: ['a.txt'],
    });
    expect(accepted.applied.map((a) => a.path)).toEqual(['a.txt']);
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('HELLO\n');
    await e.agent.request('_shadowbox/undo', { sessionId });
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('hello\n');

    // The editor's answers are in the workspace's audit log, with the rule that asked.
    const c = await d.connect('auditor');
    const audit = await c.request(AuditQuery, { workspace: ws, sessionId });
    const calls2 = audit.entries.filter((x) => x.type === 'tool.call').map((x) => x.data);
    expect(calls2).toEqual([
      expect.objectContaining({
        tool: 'edit_file',
        answer: 'allow_once',
        decision: expect.objectContaining({ action: 'allow', rule: 'project:ask tool=edit_file' }),
      }),
      expect.objectContaining({ tool: 'write_file', answer: 'deny', reason: 'user_denied' }),
    ]);
    expect(audit.entries.map((x) => x.type)).toEqual(expect.arrayContaining(['shadow.accept', 'shadow.undo']));
    c.dispose();
  });

  it('session/load in a second editor replays the conversation: the person’s prompt, the agent’s text, the tool calls', async () => {
    expect(sessionId).not.toBe('');
    const e = await editor();
    await e.agent.request('session/load', { sessionId, cwd: ws, mcpServers: [] });
    const mine = e.updates.filter((u) => u.sessionId === sessionId);
    expect(textOf(mine, 'user_message_chunk')).toBe('make a.txt shout');
    expect(textOf(mine, 'agent_message_chunk')).toBe('I will edit a.txt.And add b.txt.Done: a.txt shouts.');
    const kinds = e.kinds(sessionId);
    expect(kinds.indexOf('user_message_chunk')).toBe(0);
    expect(kinds.filter((k) => k === 'tool_call')).toHaveLength(2);
    expect(kinds).toContain('tool_call_update');
    await e.proc.close();
  });

  it('a direct tools/call by another client (shadowbox exec) reaches the editor as tool_call and tool_call_update with its diff, marked as run by a client', async () => {
    const ws2 = await makeTempDir('acpws2');
    await writeFile(path.join(ws2, 'c.txt'), 'old\n');
    const e = await editor();
    const s = await e.agent.request('session/new', { cwd: ws2, mcpServers: [] });
    const cli = await d.connect('cli');
    const r = await cli.request(ToolsCall, {
      sessionId: s.sessionId,
      tool: 'write_file',
      input: { path: 'c.txt', content: 'new\n' },
    });
    expect(r.isError).toBe(false);
    const mine = () => e.updates.filter((u) => u.sessionId === s.sessionId);
    expect(await until(() => toolUpdates(mine(), r.callId).some((u) => u.status === 'completed'))).toBe(true);
    const call = mine()
      .map((u) => u.update)
      .find((u) => u.sessionUpdate === 'tool_call' && u.toolCallId === r.callId);
    expect(call).toMatchObject({
      sessionUpdate: 'tool_call',
      kind: 'edit',
      status: 'pending',
      title: expect.stringContaining('(run by a client)') as unknown,
      _meta: { shadowbox: { origin: 'client', clientId: cli.clientId } },
    });
    const statuses = toolUpdates(mine(), r.callId).map((u) => u.status);
    expect(statuses).toEqual(['in_progress', 'completed']);
    const done = toolUpdates(mine(), r.callId).at(-1)!;
    const diff = done.content!.find((c): c is Extract<ToolCallContent, { type: 'diff' }> => c.type === 'diff');
    expect(diff).toMatchObject({ oldText: 'old\n', newText: 'new\n' });
    // A refused direct call ends failed with its reason.
    const bad = await cli.request(ToolsCall, { sessionId: s.sessionId, tool: 'no_such_tool', input: {} });
    expect(await until(() => toolUpdates(mine(), bad.callId).some((u) => u.status === 'failed'))).toBe(true);
    expect(toolUpdates(mine(), bad.callId).at(-1)?.rawOutput).toMatchObject({ reason: 'unknown_tool' });
    cli.dispose();
    await e.proc.close();
    await rm(ws2, { recursive: true, force: true });
  });

  it('session/cancel mid-stream ends the prompt with stopReason cancelled and the model request is aborted', async () => {
    const e = await editor();
    const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
    model.push({ text: ['Let me think', ' about this', ' for a long time'], delayMs: 20, hang: true });
    const before = model.requests.length;
    const prompt = e.agent.request('session/prompt', {
      sessionId: s.sessionId,
      prompt: [{ type: 'text', text: 'think forever' }],
    });
    await expect
      .poll(() =>
        textOf(
          e.updates.filter((u) => u.sessionId === s.sessionId),
          'agent_message_chunk',
        ),
      )
      .toContain('Let me think');
    // The stream hangs for ever: the prompt ending at all is the cancel's doing.
    await e.agent.notify('session/cancel', { sessionId: s.sessionId });
    expect((await prompt).stopReason).toBe('cancelled');
    await expect.poll(() => model.requests[before]?.clientClosedAt).toBeTypeOf('number');
  });

  it('session/cancel while a permission question is open: the editor’s question is withdrawn, the prompt ends cancelled, nothing is written', async () => {
    const e = await editor();
    const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
    let withdrawn = false;
    e.answerWith(
      (_q, signal) =>
        new Promise((resolve) =>
          signal.addEventListener('abort', () => ((withdrawn = true), resolve({ outcome: { outcome: 'cancelled' } }))),
        ),
    );
    model.push({
      text: ['Writing.'],
      toolCalls: [{ name: 'write_file', arguments: { path: 'c.txt', content: 'c\n' } }],
    });
    const prompt = e.agent.request('session/prompt', {
      sessionId: s.sessionId,
      prompt: [{ type: 'text', text: 'write c.txt' }],
    });
    await expect.poll(() => e.permissions.length).toBe(1);
    await e.agent.notify('session/cancel', { sessionId: s.sessionId });
    expect((await prompt).stopReason).toBe('cancelled');
    await expect.poll(() => withdrawn).toBe(true);
    expect(await exists(path.join(ws, 'c.txt'))).toBe(false);
    const review = await e.agent.request<{ status: { files: Array<{ path: string }> } }>('_shadowbox/review', {
      sessionId: s.sessionId,
    });
    expect(review.status.files.map((f) => f.path)).not.toContain('c.txt');
  });

  it('the editor closing stdin mid-prompt: the bridge exits 0, the daemon survives and keeps the session', async () => {
    const e = await editor();
    const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
    model.push({ text: ['Still ', 'going'], delayMs: 20, hang: true });
    void e.agent
      .request('session/prompt', { sessionId: s.sessionId, prompt: [{ type: 'text', text: 'long task' }] })
      .catch(() => undefined);
    await expect.poll(() => e.kinds(s.sessionId).length).toBeGreaterThan(0);
    expect(await e.proc.close()).toBe(0);
    const c = await connectSocket(d.socketPath);
    await c.initialize({ name: 'after', kind: 'test' });
    expect((await c.request(DaemonStatus, {})).pid).toBe(d.pid);
    expect((await c.request(SessionList, { workspace: ws })).sessions.map((x) => x.sessionId)).toContain(s.sessionId);
    c.dispose();
  });
});
