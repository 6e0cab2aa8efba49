// MCP: tools of the MCP servers in the config (stdio and streamable HTTP), as runtime tools `mcp__<server>__<tool>`.
import { z } from 'zod';
import type { Logger } from '../state/index.js';
import type { Tool } from '../tools/index.js';
import { createMcpServiceImpl, type McpServerStatus } from './service.js';

export { INHERITED_ENV } from './connection.js';
export { DEFAULT_CALL_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS, type McpServerStatus } from './service.js';

/** `config.json` → `mcpServers`: the shape Claude Desktop and Cursor use (a command to spawn, or a URL). */
export const McpServersConfig = z.record(
  z.string().regex(/^[a-z0-9][a-z0-9_-]*$/),
  z.union([
    z.strictObject({ command: z.string(), args: z.array(z.string()).default([]), env: z.record(z.string(), z.string()).default({}), cwd: z.string().optional() }),
    z.strictObject({ url: z.url(), headers: z.record(z.string(), z.string()).default({}) }),
  ]),
);
export type McpServersConfig = z.infer<typeof McpServersConfig>;

/** The MCP servers of one daemon: connected once at start, their tools handed to the tool runtime. */
export interface McpService {
  /** Connects to every configured server (in parallel, each with a timeout); a server that fails is logged and skipped, never fatal. */
  start(): Promise<void>;
  /** Tools of the connected servers as runtime tools named mcp__<server>__<tool>, kind from annotations (readOnlyHint → 'read', destructiveHint → 'delete', openWorldHint → 'fetch', else 'other'), source 'mcp'. */
  tools(): Tool<any>[];
  status(): McpServerStatus[];
  close(): Promise<void>;
}

export interface McpServiceDeps {
  servers: McpServersConfig;
  logger: Logger;
  clientInfo: { name: string; version: string };
  /** Per server, to start and list tools (default 15 s). */
  connectTimeoutMs?: number;
  /** Per tool call (default 5 min); the call's cancel signal ends it sooner. */
  callTimeoutMs?: number;
  /** The daemon's environment (default process.env); stdio servers see only PATH, HOME, LANG of it. */
  hostEnv?: NodeJS.ProcessEnv;
}

/** Builds the service; nothing is spawned or dialled until start(). */
export function createMcpService(deps: McpServiceDeps): McpService {
  return createMcpServiceImpl(deps);
}
