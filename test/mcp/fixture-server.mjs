#!/usr/bin/env node
// A real stdio MCP server for the daemon's MCP tests, written with the SDK's server side.
// Its tools cover the cases the client must handle: annotations (→ tool kinds), plain results,
// errors, images, cancellation and a server that dies mid-call.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'shadowbox-fixture', version: '1.0.0' });
let cancelled = 0;
let calls = 0;
const text = (t) => ({ content: [{ type: 'text', text: t }] });

server.registerTool(
  'echo',
  {
    description: 'Echo the text back.',
    inputSchema: { text: z.string().describe('what to echo') },
    annotations: { readOnlyHint: true },
  },
  async ({ text: t }) => (calls++, text(t)),
);

server.registerTool(
  'add',
  { description: 'Add two numbers.', inputSchema: { a: z.number(), b: z.number() } },
  async ({ a, b }) => (calls++, text(String(a + b))),
);

// Waits `ms` (or until the client cancels the request); openWorldHint only to exercise kind mapping.
server.registerTool(
  'slow',
  {
    description: 'Wait, then answer.',
    inputSchema: { ms: z.number().int().min(0) },
    annotations: { openWorldHint: true },
  },
  async ({ ms }, extra) => {
    calls++;
    await new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      extra.signal.addEventListener('abort', () => {
        cancelled++;
        clearTimeout(t);
        resolve(undefined);
      });
    });
    return text(`waited ${ms} ms`);
  },
);

// Dies in the middle of the call, before answering.
server.registerTool(
  'crash',
  { description: 'Exit the server process mid-call.', inputSchema: {}, annotations: { destructiveHint: true } },
  async () => process.exit(3),
);

server.registerTool(
  'env',
  {
    description: 'Read an environment variable of the server process.',
    inputSchema: { name: z.string() },
    annotations: { readOnlyHint: true },
  },
  async ({ name }) => text(process.env[name] ?? '(unset)'),
);

server.registerTool('fail', { description: 'A tool-level error (isError).', inputSchema: {} }, async () => ({
  isError: true,
  content: [{ type: 'text', text: 'it failed on purpose' }],
}));

server.registerTool(
  'picture',
  {
    description: 'Returns text, an image and an embedded resource.',
    inputSchema: {},
    annotations: { readOnlyHint: true },
  },
  async () => ({
    content: [
      { type: 'text', text: 'a picture:' },
      { type: 'image', data: Buffer.from('not really a png').toString('base64'), mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'file:///fixture/notes.txt', mimeType: 'text/plain', text: 'notes' } },
    ],
  }),
);

server.registerTool(
  'stats',
  {
    description: 'Process id, calls and cancellations seen by this server process.',
    inputSchema: {},
    annotations: { readOnlyHint: true },
  },
  async () => text(JSON.stringify({ pid: process.pid, calls, cancelled })),
);

await server.connect(new StdioServerTransport());
