import type { Logger } from '../state/index.js';
import type { AnyTool } from '../tools/index.js';
import type { McpConnection, McpServerSpec } from './connection.js';
import { toRuntimeTool } from './mcp-tool.js';

/** Defaults: a server gets 15 s to start and list its tools; one call may run 5 minutes. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
export const DEFAULT_CALL_TIMEOUT_MS = 300_000;

export interface McpServiceDeps {
  servers: Record<string, McpServerSpec>;
  logger: Logger;
  clientInfo: { name: string; version: string };
  connectTimeoutMs?: number;
  callTimeoutMs?: number;
  /** The daemon's environment (default process.env); stdio servers only see PATH, HOME, LANG of it. */
  hostEnv?: NodeJS.ProcessEnv;
}

export interface McpServerStatus {
  name: string;
  transport: 'stdio' | 'http';
  state: 'connected' | 'failed';
  tools: number;
  error?: string;
}

interface Entry {
  name: string;
  spec: McpServerSpec;
  /** Made at start: the MCP SDK (~80 ms of module loading) loads only when a server is configured. */
  conn?: McpConnection;
  started: boolean;
  tools: AnyTool[];
  error?: string;
}

/** The configured MCP servers, connected in parallel at start; their tools as runtime tools. */
export function createMcpServiceImpl(deps: McpServiceDeps) {
  const { logger } = deps;
  const entries: Entry[] = Object.entries(deps.servers).map(([name, spec]) => ({
    name,
    spec,
    started: false,
    tools: [],
  }));
  let starting: Promise<void> | undefined;
  let closed = false;

  const startOne = async (e: Entry): Promise<void> => {
    const t0 = performance.now();
    try {
      const { createMcpConnection } = await import('./connection.js');
      if (closed) throw new Error('the daemon is stopping');
      const conn = (e.conn = createMcpConnection({
        name: e.name,
        spec: e.spec,
        logger,
        clientInfo: deps.clientInfo,
        connectTimeoutMs: deps.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        callTimeoutMs: deps.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
        hostEnv: deps.hostEnv ?? process.env,
      }));
      const listed = await conn.connect();
      const call = conn.call.bind(conn);
      e.tools = listed.map((t) => toRuntimeTool(e.name, t, call, logger));
      logger.info(
        `mcp ${e.name}: connected over ${conn.transport} in ${Math.round(performance.now() - t0)} ms, ${e.tools.length} tools`,
      );
    } catch (err) {
      e.error = (err as Error)?.message ?? String(err);
      logger.warn(`mcp ${e.name}: skipped: ${e.error}`);
      await e.conn?.close();
    } finally {
      e.started = true;
    }
  };

  return {
    start() {
      starting ??= Promise.all(entries.map(startOne)).then(() => undefined);
      return starting;
    },
    tools() {
      const seen = new Set<string>();
      const out: AnyTool[] = [];
      for (const e of entries) {
        for (const t of e.tools) {
          if (seen.has(t.name)) {
            logger.warn(`mcp ${e.name}: two tools map to ${t.name}; keeping the first`);
            continue;
          }
          seen.add(t.name);
          out.push(t);
        }
      }
      return out;
    },
    status(): McpServerStatus[] {
      return entries.map((e) => {
        const alive = e.conn?.alive() ?? false;
        const connected = e.started && e.error === undefined && alive;
        const error = !e.started
          ? 'not started'
          : (e.error ?? (alive ? undefined : `${e.conn?.error() ?? 'disconnected'} (restarts on the next call)`));
        return {
          name: e.name,
          transport: 'command' in e.spec ? 'stdio' : 'http',
          state: connected ? 'connected' : 'failed',
          tools: e.tools.length,
          ...(error && !connected ? { error } : {}),
        };
      });
    },
    async close() {
      closed = true;
      await Promise.all(entries.map((e) => e.conn?.close() ?? Promise.resolve()));
    },
  };
}
