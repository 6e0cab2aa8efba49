import type { Logger } from '../state/index.js';
import type { AnyTool } from '../tools/index.js';
import type { McpServerSpec } from './spec.js';
import { createMcpServiceImpl, type McpServiceDeps } from './service.js';

type Service = ReturnType<typeof createMcpServiceImpl>;

export interface SessionMcpPoolDeps {
  logger: Logger;
  clientInfo: { name: string; version: string };
  /** Server names config.json uses: a session server with one of them is skipped (the person's config wins). */
  reservedServers: Iterable<string>;
  /** Names of the shared tools, read each time a session's servers have started: a session tool with one is skipped. */
  reservedTools: Iterable<string>;
  connectTimeoutMs?: number;
  callTimeoutMs?: number;
  hostEnv?: NodeJS.ProcessEnv;
}

interface Entry {
  /** The servers this entry runs, as JSON (to tell "the same set again" from a change). */
  key: string;
  service: Service;
  /** Set once start() settled; the same array until the servers change (callers may cache by identity). */
  tools?: AnyTool[];
}

/**
 * The MCP servers of each session (an ACP editor's): one McpService per session that has servers,
 * started on open, replaced when the set changes, all closed with the pool. A server that fails is
 * logged and offers no tools, as with config.json's servers.
 */
export function createSessionMcpPoolImpl(deps: SessionMcpPoolDeps) {
  const { logger } = deps;
  const reservedServers = new Set(deps.reservedServers);
  const entries = new Map<string, Entry>();
  let closed = false;

  const stop = async (sessionId: string) => {
    const e = entries.get(sessionId);
    entries.delete(sessionId);
    await e?.service.close().catch(() => undefined);
  };

  return {
    async open(sessionId: string, servers: Record<string, McpServerSpec> | undefined): Promise<void> {
      const wanted = Object.fromEntries(
        Object.entries(servers ?? {}).filter(([name]) => {
          if (!reservedServers.has(name)) return true;
          logger.warn(`session ${sessionId}: MCP server ${name} skipped: config.json has a server with that name`);
          return false;
        }),
      );
      const key = JSON.stringify(wanted);
      if (entries.get(sessionId)?.key === key) return;
      await stop(sessionId);
      if (closed || Object.keys(wanted).length === 0) return;
      const serviceDeps: McpServiceDeps = {
        servers: wanted,
        logger,
        clientInfo: deps.clientInfo,
        ...(deps.connectTimeoutMs !== undefined ? { connectTimeoutMs: deps.connectTimeoutMs } : {}),
        ...(deps.callTimeoutMs !== undefined ? { callTimeoutMs: deps.callTimeoutMs } : {}),
        ...(deps.hostEnv ? { hostEnv: deps.hostEnv } : {}),
      };
      const entry: Entry = { key, service: createMcpServiceImpl(serviceDeps) };
      // Registered before it starts, so close() reaches servers that are still starting.
      entries.set(sessionId, entry);
      const t0 = performance.now();
      await entry.service.start();
      if (closed || entries.get(sessionId) !== entry) {
        await entry.service.close().catch(() => undefined);
        return;
      }
      const reservedTools = new Set(deps.reservedTools);
      entry.tools = entry.service.tools().filter((t) => {
        if (!reservedTools.has(t.name)) return true;
        logger.warn(`session ${sessionId}: MCP tool ${t.name} skipped: a shared tool has that name`);
        return false;
      });
      const status = entry.service.status();
      for (const st of status)
        if (st.state === 'failed')
          logger.warn(
            `session ${sessionId}: mcp server ${st.name} (${st.transport}) failed to start: ${st.error ?? 'unknown error'}`,
          );
      logger.info(
        `session ${sessionId}: ${status.filter((s) => s.state === 'connected').length}/${status.length} MCP servers up in ${Math.round(performance.now() - t0)} ms, ${entry.tools.length} tools`,
      );
    },
    tools(sessionId: string): AnyTool[] | undefined {
      return entries.get(sessionId)?.tools;
    },
    status(sessionId: string) {
      return entries.get(sessionId)?.service.status() ?? [];
    },
    async close(): Promise<void> {
      closed = true;
      await Promise.all([...entries.keys()].map(stop));
    },
  };
}
