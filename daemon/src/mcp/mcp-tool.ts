import { createHash } from 'node:crypto';
import type { CallToolResult, Tool as McpTool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import type { Logger } from '../state/index.js';
import { defineTool, type Tool, type ToolKind } from '../tools/index.js';

/** Calls one tool on one server; the connection owns reconnects and maps transport failures to typed errors. */
export type McpCall = (tool: string, args: Record<string, unknown>, signal: AbortSignal) => Promise<CallToolResult>;

const InputObject = lazySchema(() => z.record(z.string(), z.unknown()));
/** Model providers accept tool names matching ^[a-zA-Z0-9_-]{1,64}$. */
const MAX_NAME = 64;

/**
 * An MCP server's tool as a runtime tool `mcp__<server>__<tool>`: input validated by zod built from
 * the server's inputSchema, kind from the annotations, results rendered as text.
 */
export function toRuntimeTool(
  server: string,
  t: McpTool,
  call: McpCall,
  logger: Logger,
): Tool<Record<string, unknown>> {
  const readOnly = t.annotations?.readOnlyHint === true;
  return defineTool({
    name: runtimeToolName(server, t.name),
    kind: kindOf(t),
    source: 'mcp',
    description: `[MCP server ${server}] ${t.description ?? t.title ?? t.annotations?.title ?? t.name}`,
    input: inputSchemaOf(server, t, logger),
    concurrent: readOnly,
    summarize: (i) => `${server}/${t.name} ${preview(i)}`,
    handler: async (i, ctx) => {
      const r = await call(t.name, i, ctx.signal);
      return {
        content: renderContent(r),
        isError: r.isError === true,
        data: {
          server,
          tool: t.name,
          ...(r.structuredContent !== undefined ? { structuredContent: r.structuredContent } : {}),
        },
      };
    },
  });
}

/** `mcp__<server>__<tool>`, with characters providers refuse replaced by `_` and long names cut + hashed. */
export function runtimeToolName(server: string, tool: string): string {
  const name = `mcp__${server}__${tool.replace(/[^A-Za-z0-9_-]/g, '_')}`;
  if (name.length <= MAX_NAME) return name;
  const hash = createHash('sha256').update(`${server}\0${tool}`).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_NAME - 9)}_${hash}`;
}

/** The ACP kind from the server's hints: readOnly → read, destructive → delete, openWorld → fetch, else other. */
export function kindOf(t: Pick<McpTool, 'annotations'>): ToolKind {
  const a = t.annotations;
  if (a?.readOnlyHint === true) return 'read';
  if (a?.destructiveHint === true) return 'delete';
  if (a?.openWorldHint === true) return 'fetch';
  return 'other';
}

/**
 * zod from the server's JSON Schema. A schema zod cannot use (or cannot turn back into JSON Schema
 * for the model) becomes "any object": the server still validates what it receives.
 */
export function inputSchemaOf(
  server: string,
  t: Pick<McpTool, 'name' | 'inputSchema'>,
  logger: Logger,
): z.ZodType<Record<string, unknown>> {
  try {
    const schema = z.fromJSONSchema(t.inputSchema as Parameters<typeof z.fromJSONSchema>[0]).pipe(InputObject());
    z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
    return schema;
  } catch (e) {
    logger.warn(
      `mcp ${server}: tool ${t.name} has an input schema shadowbox cannot use (${(e as Error)?.message ?? String(e)}); its arguments are passed to the server unchecked`,
    );
    return InputObject().meta({
      description: `Arguments for ${t.name} (the server's input schema could not be read; they are passed to the server unchecked).`,
    });
  }
}

/** What the model sees of a result: text as is, one placeholder line per image, audio or resource. */
export function renderContent(r: CallToolResult): string {
  const lines: string[] = [];
  for (const c of r.content ?? []) {
    switch (c.type) {
      case 'text':
        lines.push(c.text);
        break;
      case 'image':
      case 'audio':
        lines.push(`[${c.type} ${c.mimeType}, ${Buffer.byteLength(c.data, 'base64')} bytes — not shown]`);
        break;
      case 'resource':
        lines.push(`[resource ${c.resource.uri}${c.resource.mimeType ? ` (${c.resource.mimeType})` : ''} — not shown]`);
        break;
      case 'resource_link':
        lines.push(`[resource link ${c.uri}${c.name ? ` "${c.name}"` : ''}]`);
        break;
      default:
        lines.push(`[${(c as { type: string }).type} content — not shown]`);
    }
  }
  if (lines.length === 0 && r.structuredContent !== undefined) lines.push(JSON.stringify(r.structuredContent));
  return lines.length ? lines.join('\n') : '(no content)';
}

function preview(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? '';
  } catch {
    s = '';
  }
  return s.length > 100 ? `${s.slice(0, 97)}...` : s;
}
