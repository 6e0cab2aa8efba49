import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolResultSchema,
  ErrorCode,
  McpError,
  type CallToolResult,
  type Tool as McpTool,
} from '@modelcontextprotocol/sdk/types.js';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import type { Logger } from '../state/index.js';

import { INHERITED_ENV, type McpServerSpec } from './spec.js';

export type { McpServerSpec } from './spec.js';

export interface McpConnectionOptions {
  name: string;
  spec: McpServerSpec;
  logger: Logger;
  clientInfo: { name: string; version: string };
  connectTimeoutMs: number;
  callTimeoutMs: number;
  /** The daemon's environment (default process.env); only INHERITED_ENV is taken from it. */
  hostEnv: NodeJS.ProcessEnv;
}

/** One MCP server: connect + list once, call tools, reconnect once on the next call after it died. */
export interface McpConnection {
  readonly transport: 'stdio' | 'http';
  /** Connects and lists the server's tools (all pages). Throws on failure or timeout. */
  connect(): Promise<McpTool[]>;
  /** Whether the last connection is up (false after the server exited or the link broke). */
  alive(): boolean;
  /** Last failure, if the connection is down. */
  error(): string | undefined;
  call(tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<CallToolResult>;
  close(): Promise<void>;
}

const STDERR_TAIL = 2048;

/** Opens and keeps one client; a call on a dead connection first reconnects (one attempt per call). */
export function createMcpConnection(o: McpConnectionOptions): McpConnection {
  const transportKind = 'command' in o.spec ? 'stdio' : 'http';
  let client: Client | undefined;
  let up = false;
  let closed = false;
  let lastError: string | undefined;
  let reconnecting: Promise<Client> | undefined;
  let stderrTail = '';

  const makeTransport = (): Transport => {
    const spec = o.spec;
    if ('url' in spec)
      return new StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers: spec.headers } });
    stderrTail = '';
    const t = new StdioClientTransport({
      command: spec.command,
      args: spec.args,
      env: serverEnv(o.hostEnv, spec.env),
      stderr: 'pipe',
      ...(spec.cwd ? { cwd: spec.cwd } : {}),
    });
    // Always drain stderr (a full pipe would block the server); keep a tail for error messages.
    t.stderr?.on('data', (chunk: Buffer) => {
      const s = chunk.toString('utf8');
      stderrTail = (stderrTail + s).slice(-STDERR_TAIL);
      for (const line of s.split('\n')) if (line.trim()) o.logger.debug(`mcp ${o.name} stderr: ${line}`);
    });
    return t;
  };

  const open = async (): Promise<Client> => {
    const c = new Client(o.clientInfo, { capabilities: {} });
    c.onclose = () => {
      if (client !== c || !up) return;
      up = false;
      lastError = transportKind === 'stdio' ? 'server exited' : 'connection closed';
      o.logger.warn(`mcp ${o.name}: ${lastError}${stderrTail ? `; stderr: ${stderrTail.trim().slice(-300)}` : ''}`);
    };
    c.onerror = (e) => o.logger.debug(`mcp ${o.name}: transport error: ${e.message}`);
    client = c;
    try {
      await c.connect(makeTransport(), {
        timeout: o.connectTimeoutMs,
        signal: AbortSignal.timeout(o.connectTimeoutMs),
      });
    } catch (e) {
      client = undefined;
      await c.close().catch(() => undefined);
      const tail = stderrTail.trim();
      lastError = `${describe(e)}${tail ? `; stderr: ${tail.slice(-300)}` : ''}`;
      throw new ShadowboxError(
        ErrorCodes.ToolFailed,
        'mcp_connect_failed',
        `MCP server ${o.name} did not start: ${lastError}`,
        { server: o.name },
        { cause: e },
      );
    }
    if (closed) {
      await c.close().catch(() => undefined);
      throw closedError(o.name);
    }
    up = true;
    lastError = undefined;
    return c;
  };

  const ensure = async (): Promise<Client> => {
    if (closed) throw closedError(o.name);
    if (client && up) return client;
    o.logger.info(`mcp ${o.name}: reconnecting`);
    reconnecting ??= open().finally(() => (reconnecting = undefined));
    try {
      return await reconnecting;
    } catch (e) {
      throw new ShadowboxError(
        ErrorCodes.ToolFailed,
        'mcp_server_unavailable',
        `MCP server ${o.name} is down and could not be restarted: ${describe(e)}`,
        { server: o.name },
        { cause: e },
      );
    }
  };

  return {
    transport: transportKind,
    alive: () => up,
    error: () => lastError,
    async connect() {
      const c = await open();
      const tools: McpTool[] = [];
      let cursor: string | undefined;
      do {
        const page = await c.listTools(cursor ? { cursor } : {}, { timeout: o.connectTimeoutMs });
        tools.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
      return tools;
    },
    async call(tool, args, signal) {
      const c = await ensure();
      try {
        // CallToolResultSchema makes the SDK parse the result into the current shape (never the 2024 `toolResult`).
        return CallToolResultSchema.parse(
          await c.callTool({ name: tool, arguments: args }, CallToolResultSchema, { signal, timeout: o.callTimeoutMs }),
        );
      } catch (e) {
        if (signal.aborted) throw e;
        if (e instanceof McpError && e.code === Number(ErrorCode.RequestTimeout)) {
          throw new ShadowboxError(
            ErrorCodes.ToolFailed,
            'mcp_timeout',
            `MCP server ${o.name} did not answer ${tool} within ${o.callTimeoutMs} ms`,
            { server: o.name, tool },
            { cause: e },
          );
        }
        if (isZodError(e)) {
          throw new ShadowboxError(
            ErrorCodes.ToolFailed,
            'mcp_bad_result',
            `MCP server ${o.name} sent a malformed result for ${tool}`,
            { server: o.name, tool },
            { cause: e },
          );
        }
        // Not a protocol error: the process or the HTTP link failed under the request.
        if (!up || !(e instanceof McpError) || e.code === Number(ErrorCode.ConnectionClosed)) {
          // The next call reconnects; make sure this client is gone (a stdio child is killed).
          up = false;
          lastError ??= describe(e);
          if (client === c) client = undefined;
          void c.close().catch(() => undefined);
          const reason = transportKind === 'stdio' ? 'mcp_server_exited' : 'mcp_connection_lost';
          const what = transportKind === 'stdio' ? 'exited' : 'connection broke';
          throw new ShadowboxError(
            ErrorCodes.ToolFailed,
            reason,
            `MCP server ${o.name} ${what} during ${tool}; the next call restarts it`,
            { server: o.name, tool },
            { cause: e },
          );
        }
        throw new ShadowboxError(
          ErrorCodes.ToolFailed,
          'mcp_error',
          `MCP server ${o.name} refused ${tool}: ${e.message}`,
          { server: o.name, tool, mcpCode: e.code },
          { cause: e },
        );
      }
    },
    async close() {
      closed = true;
      up = false;
      const c = client;
      client = undefined;
      if (!c) return;
      if (transportKind === 'http' && c.transport instanceof StreamableHTTPClientTransport) {
        await c.transport.terminateSession().catch(() => undefined);
      }
      await c.close().catch(() => undefined);
    },
  };
}

/**
 * The environment of a stdio server: PATH, HOME, LANG from the daemon plus the configured env. The
 * SDK adds its own defaults (USER, SHELL, ...) under ours; those not allowed are set to undefined,
 * which Node's spawn drops.
 */
export function serverEnv(hostEnv: NodeJS.ProcessEnv, configured: Record<string, string>): Record<string, string> {
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(getDefaultEnvironment())) env[k] = undefined;
  for (const k of INHERITED_ENV) if (hostEnv[k] !== undefined) env[k] = hostEnv[k];
  Object.assign(env, configured);
  return env as Record<string, string>;
}

function isZodError(e: unknown): boolean {
  return e instanceof Error && e.name === 'ZodError';
}

function closedError(name: string): ShadowboxError {
  return new ShadowboxError(
    ErrorCodes.ToolFailed,
    'mcp_closed',
    `MCP server ${name} is closed (the daemon is shutting down)`,
    { server: name },
  );
}

/** A failure as one line, with the cause's code when there is one (fetch says only "fetch failed"). */
function describe(e: unknown): string {
  if (isShadowboxError(e)) return e.message;
  if (!(e instanceof Error)) return String(e);
  if (e instanceof StreamableHTTPError) return `HTTP ${e.code ?? '?'} (${e.message})`;
  const code = (e as { code?: unknown }).code;
  const own = typeof code === 'string' && !e.message.includes(code) ? `${code}: ${e.message}` : e.message;
  return e.cause instanceof Error ? `${own} (${describe(e.cause)})` : own;
}
