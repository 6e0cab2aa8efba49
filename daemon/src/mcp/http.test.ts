import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorCodes } from '../errors.js';
import { memoryLogger } from '../tools/test-support.js';
import { createMcpService, McpServersConfig, type McpService } from './index.js';

// A real streamable HTTP MCP server (stateless: one McpServer + transport per request) on a local port.
let http: Server;
let url: string;
const seenAuth: (string | undefined)[] = [];

function buildServer(): McpServer {
  const s = new McpServer({ name: 'http-fixture', version: '1.0.0' });
  s.registerTool(
    'shout',
    { description: 'Upper-case the text.', inputSchema: { text: z.string() }, annotations: { readOnlyHint: true } },
    async ({ text }) => ({
      content: [{ type: 'text', text: text.toUpperCase() }],
    }),
  );
  s.registerTool(
    'fetch_page',
    { description: 'Pretend to fetch.', inputSchema: { url: z.string() }, annotations: { openWorldHint: true } },
    async ({ url: u }) => ({
      content: [{ type: 'resource_link', uri: u, name: 'page' }],
    }),
  );
  return s;
}

function listen(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    seenAuth.push(req.headers.authorization);
    if (req.headers.authorization !== 'Bearer t0ken') {
      res.writeHead(401).end();
      return;
    }
    const server = buildServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    server
      .connect(transport)
      .then(() => transport.handleRequest(req, res))
      .catch(() => res.headersSent || res.writeHead(500).end());
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

beforeEach(async () => {
  seenAuth.length = 0;
  http = await listen(0);
  url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/mcp`;
});

const services: McpService[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
  if (http.listening) await stop(http);
});

async function start(servers: unknown) {
  const mcp = createMcpService({
    servers: McpServersConfig().parse(servers),
    logger: memoryLogger(),
    clientInfo: { name: 'shadowbox-test', version: '0' },
    connectTimeoutMs: 3_000,
  });
  services.push(mcp);
  await mcp.start();
  return mcp;
}

const call = (mcp: McpService, name: string, input: Record<string, unknown>) => {
  const tool = mcp.tools().find((t) => t.name === name)!;
  return tool.handler(tool.input.parse(input), {
    sessionId: 's',
    workspace: '/nowhere',
    view: undefined as never,
    signal: new AbortController().signal,
  });
};

describe('MCP over streamable HTTP', () => {
  it('connects with the configured headers, lists and calls tools', async () => {
    const mcp = await start({ web: { url, headers: { Authorization: 'Bearer t0ken' } } });
    expect(mcp.status()).toEqual([{ name: 'web', transport: 'http', state: 'connected', tools: 2 }]);
    expect(mcp.tools().map((t) => [t.name, t.kind, t.source])).toEqual([
      ['mcp__web__shout', 'read', 'mcp'],
      ['mcp__web__fetch_page', 'fetch', 'mcp'],
    ]);
    expect(await call(mcp, 'mcp__web__shout', { text: 'hi' })).toMatchObject({ content: 'HI', isError: false });
    expect((await call(mcp, 'mcp__web__fetch_page', { url: 'https://example.com/' })).content).toBe(
      '[resource link https://example.com/ "page"]',
    );
    expect(seenAuth.every((a) => a === 'Bearer t0ken')).toBe(true);
  });

  it('a server that refuses the credentials, or nothing listening, is failed, not fatal', async () => {
    const spare = await listen(0);
    const freePort = (spare.address() as AddressInfo).port;
    await stop(spare);
    const mcp = await start({ noauth: { url }, down: { url: `http://127.0.0.1:${freePort}/mcp` } });
    expect(mcp.status().map((s) => [s.name, s.state, s.tools])).toEqual([
      ['noauth', 'failed', 0],
      ['down', 'failed', 0],
    ]);
    expect(mcp.status()[0].error).toContain('401');
    expect(mcp.status()[1].error).toContain('ECONNREFUSED');
    expect(mcp.tools()).toEqual([]);
  });

  it('a server that goes away gives a typed error; the next call reconnects once it is back', async () => {
    const mcp = await start({ web: { url, headers: { Authorization: 'Bearer t0ken' } } });
    const port = (http.address() as AddressInfo).port;
    await stop(http);
    await expect(call(mcp, 'mcp__web__shout', { text: 'a' })).rejects.toMatchObject({
      code: ErrorCodes.ToolFailed,
      data: { reason: 'mcp_connection_lost', server: 'web' },
    });
    expect(mcp.status()[0]).toMatchObject({ state: 'failed', tools: 2 });
    http = await listen(port);
    expect(await call(mcp, 'mcp__web__shout', { text: 'b' })).toMatchObject({ content: 'B', isError: false });
    expect(mcp.status()[0].state).toBe('connected');
  });
});
