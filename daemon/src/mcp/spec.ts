// What the MCP files share without loading the MCP SDK (connection.ts loads it, on first start).

/** How to reach one server: a command to spawn (stdio) or a URL (streamable HTTP). */
export type McpServerSpec =
  | { command: string; args: string[]; env: Record<string, string>; cwd?: string | undefined }
  | { url: string; headers: Record<string, string> };

/** The only variables of the daemon's environment a stdio server sees (plus its configured `env`). */
export const INHERITED_ENV = ['PATH', 'HOME', 'LANG'] as const;
