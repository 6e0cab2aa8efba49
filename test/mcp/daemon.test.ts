// MCP servers from config.json, through the real daemon and the agent: the tools appear as
// mcp__<server>__<tool>, run on the host, so in review mode every call asks a person first.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditQuery, SessionCreate, SessionPrompt, ToolsList, type SessionEvent } from '@shadowbox/protocol';
import { makeTempDir, repoRoot, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';

describe('MCP servers configured in config.json', () => {
  let model: ModelServer;
  let d: TestDaemon;
  beforeAll(async () => {
    model = await startModelServer();
    const stateDir = await makeTempDir('st');
    await writeFile(
      path.join(stateDir, 'config.json'),
      JSON.stringify({
        mcpServers: {
          fx: { command: process.execPath, args: [path.join(repoRoot, 'test/mcp/fixture-server.mjs')] },
          broken: { command: '/nonexistent/mcp-server' },
        },
      }),
    );
    d = await startTestDaemon({
      stateDir,
      web: false,
      env: openaiEnv(model, 'openai/t'),
    });
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
    await model?.close();
  });

  it('offers the tools of the server that started, logs the one that did not, and asks before each call', async () => {
    const c = await d.connect('a', { permissions: true });
    const tools = (await c.request(ToolsList, {})).tools;
    const echo = tools.find((t) => t.name === 'mcp__fx__echo');
    expect(echo).toMatchObject({ source: 'mcp', kind: 'read' });
    expect(echo!.description).toContain('[MCP server fx]');
    expect(tools.some((t) => t.name.startsWith('mcp__broken__'))).toBe(false);
    expect(d.stderr()).toMatch(/mcp server broken \(stdio\) failed to start/);

    const asked: string[] = [];
    c.onPermission(async (q) => {
      asked.push(q.tool);
      return { outcome: q.tool === 'mcp__fx__add' ? 'deny' : 'allow_once' };
    });
    const seen: SessionEvent[] = [];
    c.onEvent((e) => seen.push(e));
    const ws = await makeTempDir('ws');
    const s = await c.request(SessionCreate, { workspace: ws });
    model.push(
      {
        toolCalls: [
          { name: 'mcp__fx__echo', arguments: { text: 'hello from mcp' } },
          { name: 'mcp__fx__add', arguments: { a: 2, b: 3 } },
        ],
      },
      { text: ['ok'] },
    );
    const r = await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'use mcp' });
    expect(r.stopReason).toBe('end_turn');
    expect(asked).toEqual(['mcp__fx__echo', 'mcp__fx__add']);
    const updates = seen.flatMap((e) =>
      e.event.type === 'tool_call_update' && (e.event.status === 'completed' || e.event.status === 'failed')
        ? [e.event]
        : [],
    );
    expect(updates.find((u) => u.status === 'completed')?.content).toContain('hello from mcp');
    expect(updates.find((u) => u.status === 'failed')?.reason).toBe('user_denied');
    const audit = await c.request(AuditQuery, { workspace: ws, type: 'tool.call' });
    expect(audit.entries.map((e) => e.data.tool)).toEqual(['mcp__fx__echo', 'mcp__fx__add']);
  });
});
