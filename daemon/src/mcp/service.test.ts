import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { decide } from '../policy/index.js';
import { createToolRuntime, type AnyTool } from '../tools/index.js';
import { fakePolicy, memoryAudit, memoryLogger, sessionContext } from '../tools/test-support.js';
import { createOverlayView } from '../wasi/test-support.js';
import { createMcpService, McpServersConfig, type McpService } from './index.js';

// A real MCP server (the SDK's McpServer over stdio) in a child process.
const FIXTURE = fileURLToPath(new URL('../../../test/mcp/fixture-server.mjs', import.meta.url));
const clientInfo = { name: 'shadowbox-test', version: '0.0.0' };

let root: string;
const services: McpService[] = [];
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'sbx-mcp-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});

async function startService(servers: unknown, opts: { connectTimeoutMs?: number; hostEnv?: NodeJS.ProcessEnv } = {}) {
  const logger = memoryLogger();
  const mcp = createMcpService({ servers: McpServersConfig().parse(servers), logger, clientInfo, ...opts });
  services.push(mcp);
  await mcp.start();
  return { mcp, logger };
}

/** The MCP tools inside the real tool runtime (validation, cancel, error mapping), with an allow-all policy. */
function runtimeOver(tools: AnyTool[]) {
  const runtime = createToolRuntime({
    tools,
    policy: fakePolicy().policy,
    audit: memoryAudit(),
    logger: memoryLogger(),
  });
  const agent = runtime.forSession(sessionContext(createOverlayView(root)).ctx);
  let n = 0;
  const call = (name: string, input: unknown, signal = new AbortController().signal) =>
    agent.call({ turnId: 't', callId: `c${++n}`, name, input, signal });
  return { runtime, agent, call };
}

const fixture = { fx: { command: process.execPath, args: [FIXTURE] } };

describe('MCP over stdio (real fixture server)', () => {
  it('lists the server tools with names, kinds, sources, descriptions and schemas', async () => {
    const { mcp } = await startService(fixture);
    expect(mcp.status()).toEqual([{ name: 'fx', transport: 'stdio', state: 'connected', tools: 8 }]);
    const tools = new Map(mcp.tools().map((t) => [t.name, t]));
    expect([...tools.keys()].sort()).toEqual(
      ['add', 'crash', 'echo', 'env', 'fail', 'picture', 'slow', 'stats'].map((n) => `mcp__fx__${n}`),
    );
    expect(tools.get('mcp__fx__echo')!.kind).toBe('read');
    expect(tools.get('mcp__fx__crash')!.kind).toBe('delete');
    expect(tools.get('mcp__fx__slow')!.kind).toBe('fetch');
    expect(tools.get('mcp__fx__add')!.kind).toBe('other');
    expect(tools.get('mcp__fx__echo')!.description).toBe('[MCP server fx] Echo the text back.');
    const { runtime, agent } = runtimeOver(mcp.tools());
    const echo = runtime.list().find((t) => t.name === 'mcp__fx__echo')!;
    expect(echo.source).toBe('mcp');
    expect(echo.inputSchema).toMatchObject({
      type: 'object',
      properties: { text: { type: 'string', description: 'what to echo' } },
      required: ['text'],
    });
    expect(agent.describe('mcp__fx__add', { a: 1, b: 2 })).toEqual({
      kind: 'other',
      summary: 'fx/add {"a":1,"b":2}',
      concurrent: false,
    });
    expect(agent.describe('mcp__fx__echo', { text: 'hi' })?.concurrent).toBe(true);
  });

  it('the real policy asks before an MCP tool in review mode, even one claiming to read, and denies in read-only', async () => {
    const { mcp } = await startService(fixture);
    const echo = mcp.tools().find((t) => t.name === 'mcp__fx__echo')!;
    const inputs = { rules: [], grants: [], protectedPaths: [] };
    expect(decide({ mode: 'review', tool: echo.name, kind: echo.kind, target: {} }, inputs).action).toBe('ask');
    expect(decide({ mode: 'read-only', tool: echo.name, kind: echo.kind, target: {} }, inputs).action).toBe('deny');
  });

  it('calls tools and returns their text; isError and non-text content come through', async () => {
    const { mcp } = await startService(fixture);
    const { call } = runtimeOver(mcp.tools());
    expect(await call('mcp__fx__echo', { text: 'hello' })).toMatchObject({
      isError: false,
      content: 'hello',
      data: { server: 'fx', tool: 'echo' },
    });
    expect(await call('mcp__fx__add', { a: 2, b: 40 })).toMatchObject({ isError: false, content: '42' });
    expect(await call('mcp__fx__fail', {})).toMatchObject({
      isError: true,
      content: 'it failed on purpose',
      reason: 'tool_error',
    });
    const pic = await call('mcp__fx__picture', {});
    expect(pic.content).toBe(
      'a picture:\n[image image/png, 16 bytes — not shown]\n[resource file:///fixture/notes.txt (text/plain) — not shown]',
    );
  });

  it('rejects bad input with a validation error before it reaches the server', async () => {
    const { mcp } = await startService(fixture);
    const { call } = runtimeOver(mcp.tools());
    const r = await call('mcp__fx__add', { a: 'two', b: 2 });
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.ToolInputInvalid, reason: 'invalid_input' });
    expect(r.content).toContain('`a`');
    expect(await call('mcp__fx__echo', {})).toMatchObject({ code: ErrorCodes.ToolInputInvalid });
    const stats = JSON.parse((await call('mcp__fx__stats', {})).content) as { calls: number };
    expect(stats.calls).toBe(0);
  });

  it('cancelling a call cancels the MCP request at the server', async () => {
    const { mcp } = await startService(fixture);
    const { call } = runtimeOver(mcp.tools());
    const ac = new AbortController();
    const stats = async () =>
      JSON.parse((await call('mcp__fx__stats', {})).content) as { calls: number; cancelled: number };
    // Abort once the server is running the call (not after a guessed delay): then it must see the cancel.
    const pending = call('mcp__fx__slow', { ms: 600_000 }, ac.signal);
    await expect.poll(async () => (await stats()).calls).toBe(1);
    ac.abort();
    const r = await pending;
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.RequestCancelled });
    // The server saw notifications/cancelled (its handler's signal fired).
    await expect.poll(async () => (await stats()).cancelled).toBe(1);
    expect(mcp.status()[0].state).toBe('connected');
  });

  it('a server that dies mid-call gives a typed error; the next call restarts it', async () => {
    const { mcp } = await startService(fixture);
    const { call } = runtimeOver(mcp.tools());
    const before = JSON.parse((await call('mcp__fx__stats', {})).content) as { pid: number };
    const r = await call('mcp__fx__crash', {});
    expect(r).toMatchObject({ isError: true, code: ErrorCodes.ToolFailed, reason: 'mcp_server_exited' });
    expect(r.content).toContain('fx');
    expect(mcp.status()[0]).toMatchObject({ state: 'failed', tools: 8 });
    expect(mcp.status()[0].error).toContain('restarts on the next call');
    expect(await call('mcp__fx__echo', { text: 'back' })).toMatchObject({ isError: false, content: 'back' });
    const after = JSON.parse((await call('mcp__fx__stats', {})).content) as { pid: number };
    expect(after.pid).not.toBe(before.pid);
    expect(mcp.status()[0].state).toBe('connected');
  });

  it('a server whose command does not exist is failed in status, contributes no tools, and does not throw', async () => {
    const { mcp, logger } = await startService({ ...fixture, nope: { command: '/nonexistent/mcp-server-xyz' } });
    expect(mcp.status()).toEqual([
      { name: 'fx', transport: 'stdio', state: 'connected', tools: 8 },
      { name: 'nope', transport: 'stdio', state: 'failed', tools: 0, error: expect.stringContaining('ENOENT') },
    ]);
    expect(mcp.tools().every((t) => t.name.startsWith('mcp__fx__'))).toBe(true);
    expect(logger.lines.some((l) => l.startsWith('warn mcp nope: skipped'))).toBe(true);
  });

  it('a server that never answers initialize is failed after the connect timeout, and its process is ended', async () => {
    const pidFile = join(root, 'mute.pid');
    const script = `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`;
    // The server never answers, so only the connect timeout can end the start (its length is not asserted).
    const { mcp } = await startService(
      { mute: { command: process.execPath, args: ['-e', script] } },
      { connectTimeoutMs: 500 },
    );
    expect(mcp.status()[0]).toMatchObject({ state: 'failed', tools: 0, error: expect.stringContaining('mute') });
    // The SDK ends a stdio server as the MCP spec says: close stdin, SIGTERM after 2 s, SIGKILL after 4 s. The pid
    // file is waited for: node may take longer than the 500 ms connect timeout to start on a loaded machine, so the
    // start can fail before the server has written it.
    await expect.poll(() => existsSync(pidFile)).toBe(true);
    await expect.poll(() => readFileSync(pidFile, 'utf8')).toMatch(/^\d+$/);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await expect.poll(alive).toBe(false);
  });

  it('a server that exits at start reports its stderr', async () => {
    const { mcp } = await startService({
      bad: { command: process.execPath, args: ['-e', 'console.error("no config file"); process.exit(2)'] },
    });
    expect(mcp.status()[0]).toMatchObject({ state: 'failed', error: expect.stringContaining('no config file') });
  });

  it('a stdio server sees PATH, HOME, LANG and its configured env, not the daemon secrets', async () => {
    const saved = { ...process.env };
    process.env.OPENAI_API_KEY = 'sk-secret-from-daemon';
    process.env.SHADOWBOX_TOKEN = 'tok';
    process.env.USER = 'daemon-user';
    process.env.LANG = 'C.UTF-8';
    try {
      const { mcp } = await startService({
        fx: { command: process.execPath, args: [FIXTURE], env: { FIXTURE_SETTING: 'configured' } },
      });
      const { call } = runtimeOver(mcp.tools());
      const env = async (name: string) => (await call('mcp__fx__env', { name })).content;
      expect(await env('OPENAI_API_KEY')).toBe('(unset)');
      expect(await env('SHADOWBOX_TOKEN')).toBe('(unset)');
      expect(await env('USER')).toBe('(unset)');
      expect(await env('FIXTURE_SETTING')).toBe('configured');
      expect(await env('PATH')).toBe(process.env.PATH);
      expect(await env('LANG')).toBe('C.UTF-8');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });

  it('close() ends the server; a later call fails with a typed error instead of respawning', async () => {
    const { mcp } = await startService(fixture);
    const { call } = runtimeOver(mcp.tools());
    const { pid } = JSON.parse((await call('mcp__fx__stats', {})).content) as { pid: number };
    await mcp.close();
    expect(() => process.kill(pid, 0)).toThrow();
    expect(await call('mcp__fx__echo', { text: 'x' })).toMatchObject({
      isError: true,
      code: ErrorCodes.ToolFailed,
      reason: 'mcp_closed',
    });
  });
});

describe('McpServersConfig', () => {
  it('accepts the Claude Desktop shape and refuses bad names and unknown keys', () => {
    expect(
      McpServersConfig().parse({
        fs: { command: 'npx', args: ['-y', 'srv'] },
        web: { url: 'https://example.com/mcp' },
      }),
    ).toEqual({
      fs: { command: 'npx', args: ['-y', 'srv'], env: {} },
      web: { url: 'https://example.com/mcp', headers: {} },
    });
    expect(McpServersConfig().safeParse({ 'Bad Name': { command: 'x' } }).success).toBe(false);
    expect(McpServersConfig().safeParse({ a: { command: 'x', shell: true } }).success).toBe(false);
    expect(McpServersConfig().safeParse({ a: { url: 'not a url' } }).success).toBe(false);
  });
});
