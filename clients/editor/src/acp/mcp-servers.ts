import type { McpServer } from '@agentclientprotocol/sdk';
import { McpServerSpec, type McpServers } from '@shadowbox/protocol';

const MAX_NAME = 40;

/**
 * An editor's ACP `mcpServers` as the daemon's `mcpServers` record: stdio servers (every ACP agent
 * must take them) spawned in the session's cwd with the editor's env, streamable HTTP servers with
 * its headers. Names become `[a-z0-9_-]` (they are the `<server>` of `mcp__<server>__<tool>`), made
 * unique with `-2`, `-3`…; SSE servers (not advertised) and malformed ones are skipped with a log line.
 */
export function daemonMcpServers(
  servers: readonly McpServer[] | null | undefined,
  cwd: string,
  log: (msg: string) => void,
): McpServers {
  const out: McpServers = {};
  for (const s of servers ?? []) {
    const name = uniqueName(serverName(s.name), out);
    if ('type' in s && s.type === 'sse') {
      log(`MCP server "${s.name}" uses SSE, which shadowbox does not support (use stdio or streamable HTTP); skipped`);
      continue;
    }
    const spec =
      'type' in s && s.type === 'http'
        ? { url: s.url, headers: Object.fromEntries((s.headers ?? []).map((h) => [h.name, h.value])) }
        : {
            command: s.command,
            args: s.args ?? [],
            env: Object.fromEntries((s.env ?? []).map((v) => [v.name, v.value])),
            cwd,
          };
    // One malformed server (an empty command, a URL that is not one) must not cost the editor its session.
    const ok = McpServerSpec().safeParse(spec);
    if (!ok.success) {
      log(
        `MCP server "${s.name}" skipped: ${ok.error.issues.map((i) => `${i.path.join('.') || 'server'}: ${i.message}`).join('; ')}`,
      );
      continue;
    }
    out[name] = ok.data;
  }
  return out;
}

/** "GitHub Tools" → "github-tools"; "" → "server". */
export function serverName(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+/, '')
    .slice(0, MAX_NAME)
    .replace(/-+$/, '');
  return s || 'server';
}

function uniqueName(base: string, taken: Record<string, unknown>): string {
  if (!(base in taken)) return base;
  for (let i = 2; ; i++) {
    const suffix = `-${i}`;
    const name = `${base.slice(0, MAX_NAME - suffix.length)}${suffix}`;
    if (!(name in taken)) return name;
  }
}
