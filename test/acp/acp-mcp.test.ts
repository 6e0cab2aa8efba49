// An editor's own MCP servers: `session/new` with a stdio server (ACP's mcpServers) gives THAT session
// the server's tools; the model calls one, the editor is asked (review mode asks for MCP), allows it,
// and the result reaches the model. A second session without servers never sees those tools.
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolsList } from '@shadowbox/protocol';
import type { SessionNotification } from '@agentclientprotocol/sdk';
import { makeTempDir, repoRoot, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';
import { connectEditor, type AcpEditor } from './editor.js';

type Update = SessionNotification['update'];
const fixture = path.join(repoRoot, 'test/mcp/fixture-server.mjs');
/** Tool names the model was offered in one recorded request (OpenAI wire format). */
const offered = (body: unknown) =>
  ((body as { tools?: Array<{ function: { name: string } }> }).tools ?? []).map((t) => t.function.name);
/** The tool results the model received in one request. */
const toolResults = (body: unknown) =>
  ((body as { messages: Array<{ role: string; content: unknown }> }).messages ?? [])
    .filter((m) => m.role === 'tool')
    .map((m) => String(m.content));

describe('shadowbox acp: MCP servers passed by the editor', () => {
  let model: ModelServer;
  let d: TestDaemon;
  let ws: string;
  let e: AcpEditor;

  beforeAll(async () => {
    model = await startModelServer();
    d = await startTestDaemon({ web: false, env: openaiEnv(model) });
    ws = await makeTempDir('acpmcp');
    e = connectEditor(d.env);
    const init = await e.agent.request('initialize', {
      protocolVersion: 1,
      clientCapabilities: { fs: { readTextFile: false, writeTextFile: false } },
    });
    expect(init.agentCapabilities?.mcpCapabilities).toMatchObject({ http: true, sse: false });
  });
  afterAll(async () => {
    await e?.proc.kill();
    await d?.stop();
    await d?.cleanup();
    await model?.close();
    if (ws) await rm(ws, { recursive: true, force: true });
  });

  it('the session’s stdio server: its echo tool asks the editor (allow_once), runs, and the result reaches the model; another session does not have it', async () => {
    const t0 = performance.now();
    const s = await e.agent.request('session/new', {
      cwd: ws,
      mcpServers: [
        { name: 'Fixture', command: process.execPath, args: [fixture], env: [{ name: 'FROM_EDITOR', value: 'yes' }] },
      ],
    });
    const newMs = performance.now() - t0;
    e.answerWith(async (q) => ({
      outcome: { outcome: 'selected', optionId: q.options.find((o) => o.kind === 'allow_once')!.optionId },
    }));
    model.push(
      {
        text: ['Echoing.'],
        toolCalls: [{ name: 'mcp__fixture__echo', arguments: { text: 'hello from the editor’s server' } }],
      },
      { text: ['It said hello.'] },
    );
    const before = model.requests.length;
    const r = await e.agent.request('session/prompt', {
      sessionId: s.sessionId,
      prompt: [{ type: 'text', text: 'echo something' }],
    });
    expect(r.stopReason).toBe('end_turn');

    // The model was offered the session's MCP tools next to the built-ins.
    const first = model.requests[before].body;
    expect(offered(first)).toEqual(expect.arrayContaining(['read_file', 'mcp__fixture__echo', 'mcp__fixture__add']));
    // Review mode asked the editor, naming the tool and the MCP rule.
    expect(e.permissions).toHaveLength(1);
    const q = e.permissions[0];
    expect(q.sessionId).toBe(s.sessionId);
    expect(q.toolCall._meta).toMatchObject({
      shadowbox: { tool: 'mcp__fixture__echo', rule: 'mode:review tool=mcp__*' },
    });
    // The call completed and its output went back to the model.
    const done = e.updates
      .filter((u) => u.sessionId === s.sessionId)
      .map((u) => u.update)
      .filter(
        (u): u is Extract<Update, { sessionUpdate: 'tool_call_update' }> =>
          u.sessionUpdate === 'tool_call_update' && u.status === 'completed',
      );
    expect(done).toHaveLength(1);
    expect(toolResults(model.requests[before + 1].body)).toEqual(['hello from the editor’s server']);
    console.log(
      `session/new with one stdio MCP server: ${Math.round(newMs)} ms (spawn + initialize + tools/list before the answer)`,
    );

    // A second session of the same editor, without servers: neither the model nor tools/list sees them.
    const s2 = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
    model.push({ text: ['Nothing to do.'] });
    const before2 = model.requests.length;
    expect(
      (await e.agent.request('session/prompt', { sessionId: s2.sessionId, prompt: [{ type: 'text', text: 'hi' }] }))
        .stopReason,
    ).toBe('end_turn');
    const names2 = offered(model.requests[before2].body);
    expect(names2).toContain('read_file');
    expect(names2.filter((n) => n.startsWith('mcp__fixture__'))).toEqual([]);
    const c = await d.connect('lister');
    expect(
      (await c.request(ToolsList, { sessionId: s2.sessionId })).tools.some((t) => t.name.startsWith('mcp__fixture__')),
    ).toBe(false);
    expect(
      (await c.request(ToolsList, { sessionId: s.sessionId })).tools.find((t) => t.name === 'mcp__fixture__echo'),
    ).toMatchObject({ source: 'mcp', kind: 'read' });
    c.dispose();
  });
});
