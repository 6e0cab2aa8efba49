// MCP servers of one session (session/create mcpServers), over the real socket: their tools are that
// session's only (tools/list with sessionId, tools/call), their process sees a minimal environment,
// their commands and env never come back to clients, and they start again after a daemon restart.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWebSocket } from '@shadowbox/client';
import {
  ErrorCodes,
  Initialize,
  SessionAttach,
  SessionConfigure,
  SessionCreate,
  SessionList,
  ToolsCall,
  ToolsList,
} from '@shadowbox/protocol';
import { makeTempDir, repoRoot, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

const fixture = path.join(repoRoot, 'test/mcp/fixture-server.mjs');
const SECRET = 'tok-5f1c0de';

/** Pids of running processes whose environment holds FIXTURE_TOKEN=SECRET (this file's servers only). */
async function serversRunning(): Promise<number[]> {
  const out: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const env = await readFile(`/proc/${p}/environ`, 'utf8').catch(() => '');
    if (env.split('\0').includes(`FIXTURE_TOKEN=${SECRET}`)) out.push(Number(p));
  }
  return out;
}

describe('MCP servers given to one session (session/create mcpServers)', () => {
  let d: TestDaemon;
  let stateDir: string;
  let ws: string;
  let sessionId = '';
  beforeAll(async () => {
    stateDir = await makeTempDir('st');
    ws = await makeTempDir('ws');
    d = await startTestDaemon({
      stateDir,
      web: false,
      env: { SHADOWBOX_MODEL: 'openai/t', OPENAI_API_KEY: 'daemon-secret' },
    });
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
  });

  it('tools/list with the sessionId has the session’s tools, without it and for another session not; tools/call asks, then runs with the given env only', async () => {
    const c = await d.connect('a', { permissions: true });
    const asked: string[] = [];
    c.onPermission(async (q) => (asked.push(`${q.tool} ${q.rule}`), { outcome: 'allow_once' }));
    const t0 = performance.now();
    const s = await c.request(SessionCreate, {
      workspace: ws,
      mcpServers: { fx: { command: process.execPath, args: [fixture], env: { FIXTURE_TOKEN: SECRET } } },
    });
    const createMs = performance.now() - t0;
    sessionId = s.sessionId;
    expect(s.mcpServers).toEqual(['fx']);
    const other = await c.request(SessionCreate, { workspace: ws });
    expect(other.mcpServers).toBeUndefined();

    const own = (await c.request(ToolsList, { sessionId })).tools;
    expect(own.find((t) => t.name === 'mcp__fx__echo')).toMatchObject({ source: 'mcp', kind: 'read' });
    expect(own.some((t) => t.name === 'read_file')).toBe(true);
    expect((await c.request(ToolsList, {})).tools.some((t) => t.name.startsWith('mcp__fx__'))).toBe(false);
    expect(
      (await c.request(ToolsList, { sessionId: other.sessionId })).tools.some((t) => t.name.startsWith('mcp__fx__')),
    ).toBe(false);

    const env = async (sid: string, name: string) =>
      c.request(ToolsCall, { sessionId: sid, tool: 'mcp__fx__env', input: { name } });
    const r = await env(sessionId, 'FIXTURE_TOKEN');
    expect(r).toMatchObject({ isError: false, content: SECRET, decision: { action: 'allow', by: expect.any(String) } });
    expect(asked).toEqual(['mcp__fx__env mode:review tool=mcp__*']);
    // The daemon's own environment does not reach the server.
    expect((await env(sessionId, 'OPENAI_API_KEY')).content).toBe('(unset)');
    // Another session cannot call them.
    expect(await env(other.sessionId, 'FIXTURE_TOKEN')).toMatchObject({ isError: true, reason: 'unknown_tool' });

    // Neither clients nor the session list see the command or env; the meta file keeps them (0600) for restarts.
    const listed = JSON.stringify(await c.request(SessionList, {}));
    expect(listed).not.toContain(SECRET);
    expect(listed).not.toContain('fixture-server');
    expect(await readFile(path.join(stateDir, 'sessions', sessionId, 'meta.json'), 'utf8')).toContain(SECRET);
    c.dispose();
    console.log(`session/create with one stdio MCP server: ${Math.round(createMs)} ms`);
  });

  it('after a daemon restart the session’s servers start again when it is used; session/configure {} removes them', async () => {
    expect(sessionId).not.toBe('');
    expect(await serversRunning()).toHaveLength(1);
    await d.stop();
    // The daemon stopping ends the session's server process (waited for under the suite's poll cap: a close may
    // give a server 2 s for its stdin, then 2 s after a SIGTERM, so a 5 s cap was thin on a loaded machine).
    await expect.poll(serversRunning).toEqual([]);
    d = await startTestDaemon({ stateDir, web: false, env: { SHADOWBOX_MODEL: 'openai/t', OPENAI_API_KEY: 'k' } });
    const c = await d.connect('b', { permissions: true });
    c.onPermission(async () => ({ outcome: 'allow_once' }));
    const t0 = performance.now();
    expect((await c.request(ToolsList, { sessionId })).tools.some((t) => t.name === 'mcp__fx__echo')).toBe(true);
    const reopenMs = performance.now() - t0;
    // Replacing the set needs the driver role.
    await expect(c.request(SessionConfigure, { sessionId, mcpServers: {} })).rejects.toMatchObject({
      code: ErrorCodes.NotDriver,
    });
    // Attached (so the question reaches this client), the restarted server answers.
    await c.request(SessionAttach, { sessionId, driver: true });
    expect(await c.request(ToolsCall, { sessionId, tool: 'mcp__fx__echo', input: { text: 'again' } })).toMatchObject({
      isError: false,
      content: 'again',
    });

    // {} removes the servers and their tools.
    const info = await c.request(SessionConfigure, { sessionId, mcpServers: {} });
    expect(info.mcpServers).toBeUndefined();
    await expect.poll(serversRunning).toEqual([]);
    expect((await c.request(ToolsList, { sessionId })).tools.some((t) => t.name.startsWith('mcp__fx__'))).toBe(false);
    expect(await readFile(path.join(stateDir, 'sessions', sessionId, 'meta.json'), 'utf8')).not.toContain(SECRET);
    c.dispose();
    console.log(
      `first tools/list of the session after a daemon restart (server restarted): ${Math.round(reopenMs)} ms`,
    );
  });

  it('a server that cannot start is logged; the session is created without its tools', async () => {
    const c = await d.connect('c');
    const s = await c.request(SessionCreate, {
      workspace: ws,
      mcpServers: { gone: { command: '/nonexistent/mcp-server' } },
    });
    expect(s.mcpServers).toEqual(['gone']);
    expect(
      (await c.request(ToolsList, { sessionId: s.sessionId })).tools.some((t) => t.name.startsWith('mcp__gone__')),
    ).toBe(false);
    expect(d.stderr()).toMatch(/mcp server gone \(stdio\) failed to start/);
    // Names must be usable in tool names.
    await expect(
      c.request(SessionCreate, { workspace: ws, mcpServers: { 'Bad Name': { command: 'x' } } }),
    ).rejects.toMatchObject({ code: ErrorCodes.InvalidParams });
    c.dispose();
  });
});

describe('MCP servers from a web client', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await startTestDaemon({ env: { SHADOWBOX_MODEL: 'openai/t', OPENAI_API_KEY: 'k' } });
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
  });

  it('are refused (they would run commands on the host); the same client may still create sessions without them', async () => {
    const c = await connectWebSocket(d.webUrl!, d.token);
    await c.request(Initialize, {
      protocolVersion: 1,
      clientInfo: { name: 'page', kind: 'web' },
      capabilities: { permissions: true, events: true },
    });
    const ws = await makeTempDir('ws');
    await expect(
      c.request(SessionCreate, {
        workspace: ws,
        mcpServers: { fx: { command: process.execPath, args: [fixture], env: { FIXTURE_TOKEN: SECRET } } },
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.Unauthorized, data: { reason: 'mcp_servers_not_allowed' } });
    const s = await c.request(SessionCreate, { workspace: ws });
    await expect(
      c.request(SessionConfigure, {
        sessionId: s.sessionId,
        mcpServers: { fx: { command: process.execPath, args: [fixture], env: { FIXTURE_TOKEN: SECRET } } },
      }),
    ).rejects.toMatchObject({ code: ErrorCodes.Unauthorized });
    // Nothing was spawned.
    expect(await serversRunning()).toEqual([]);
    c.dispose();
  });
});
