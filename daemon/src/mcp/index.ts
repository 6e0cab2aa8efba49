// MCP: tools of MCP servers (config.json's, and each session's own) over stdio and streamable HTTP, as runtime tools `mcp__<server>__<tool>`.
import { McpServers } from '@shadowbox/protocol';
import type { Logger } from '../state/index.js';
import type { AnyTool } from '../tools/index.js';
import { createMcpServiceImpl, type McpServerStatus } from './service.js';
import { createSessionMcpPoolImpl, type SessionMcpPoolDeps } from './session-pool.js';

export { INHERITED_ENV } from './spec.js';
export { DEFAULT_CALL_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS, type McpServerStatus } from './service.js';

/** `config.json` → `mcpServers`: the shape Claude Desktop and Cursor use (a command to spawn, or a URL); the same
 * schema `session/create` takes, declared once in the protocol. */
export const McpServersConfig = McpServers;
export type McpServersConfig = McpServers;

/** The MCP servers of one daemon: connected once at start, their tools handed to the tool runtime. */
export interface McpService {
  /** Connects to every configured server (in parallel, each with a timeout); a server that fails is logged and skipped, never fatal. */
  start(): Promise<void>;
  /** Tools of the connected servers as runtime tools named mcp__<server>__<tool>, kind from annotations (readOnlyHint → 'read', destructiveHint → 'delete', openWorldHint → 'fetch', else 'other'), source 'mcp'. */
  tools(): AnyTool[];
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

/** The MCP servers sessions bring themselves (an ACP editor's `mcpServers`), one set per session. */
export interface SessionMcpPool {
  /**
   * Makes a session's servers match `servers`: starts them (in parallel, each with the connect
   * timeout), restarts them when the set changed, stops them when it is empty; the same set again
   * does nothing. Names config.json uses, and tools named like a shared tool, are skipped. Never throws.
   */
  open(sessionId: string, servers: McpServersConfig | undefined): Promise<void>;
  /** The session's MCP tools once its servers started; the same array until they change; undefined without servers. */
  tools(sessionId: string): AnyTool[] | undefined;
  status(sessionId: string): McpServerStatus[];
  /** Stops every session's servers (daemon stop); later opens start nothing. */
  close(): Promise<void>;
}

export type { SessionMcpPoolDeps };

/** Builds the pool; nothing runs until a session is opened. */
export function createSessionMcpPool(deps: SessionMcpPoolDeps): SessionMcpPool {
  return createSessionMcpPoolImpl(deps);
}
