import { z } from 'zod';
import type { AgentTools } from '../agent/index.js';
import type { ToolSpec } from '../providers/index.js';
import type { AuditSink } from '../audit/index.js';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { Logger } from '../state/index.js';
import { runCall, type RegisteredTool } from './call.js';
import { DEFAULT_MAX_CONTENT_BYTES } from './cap.js';
import type { AnyTool, Tool } from './define.js';
import type { PolicyPort, ToolInfo, ToolSessionContext } from './ports.js';
import { summarize } from './summary.js';

/** The registry of tools and the one path every call takes: validate → policy (ask) → run → cap → audit. */
export interface ToolRuntime {
  /** AgentTools for one session (the agent loop and tools/call both go through it). */
  forSession(ctx: ToolSessionContext): AgentTools;
  /** Every tool with its kind, JSON Schema and source (tools/list). */
  list(): ToolInfo[];
}

export interface ToolRuntimeDeps {
  // A registry holds tools of many input types.
  tools: AnyTool[];
  policy: PolicyPort;
  audit: AuditSink;
  logger: Logger;
  /** Cap on the content the model sees of one result (default 32 KiB); the full text stays in `output`. */
  maxContentBytes?: number;
}

/** Builds the registry from a list of tools (it imports none itself); duplicate names are a wiring bug. */
export function createToolRuntime(deps: ToolRuntimeDeps): ToolRuntime {
  const tools = new Map<string, RegisteredTool>();
  for (const tool of deps.tools) {
    if (tools.has(tool.name))
      throw new ShadowboxError(ErrorCodes.ConfigInvalid, 'duplicate_tool', `two tools are named ${tool.name}`, {
        tool: tool.name,
      });
    // JSON Schemas are built when first asked for (tools/list, the first model turn, a bad input), not at
    // daemon start: converting every tool's zod schema costs ~10 ms the start does not need.
    let jsonSchema: Record<string, unknown> | undefined;
    tools.set(tool.name, {
      tool,
      get jsonSchema() {
        return (jsonSchema ??= toJsonSchema(tool));
      },
    });
  }
  let infos: ToolInfo[] | undefined;
  const listInfos = (): ToolInfo[] =>
    (infos ??= [...tools.values()].map((entry) => ({
      name: entry.tool.name,
      description: entry.tool.description,
      kind: entry.tool.kind,
      inputSchema: entry.jsonSchema,
      source: entry.tool.source ?? (entry.tool.name.startsWith('mcp__') ? 'mcp' : 'builtin'),
    })));
  let specs: ToolSpec[] | undefined;
  const listSpecs = (): ToolSpec[] =>
    (specs ??= listInfos().map((t) => ({
      name: t.name,
      description: t.description,
      inputSchema: t.inputSchema,
    })));
  const maxContentBytes = deps.maxContentBytes ?? DEFAULT_MAX_CONTENT_BYTES;

  return {
    list: () => listInfos().map((t) => ({ ...t })),
    forSession(ctx) {
      return {
        specs: listSpecs,
        describe(name, input) {
          const entry = tools.get(name);
          if (!entry) return null;
          return {
            kind: entry.tool.kind,
            summary: summarize(entry.tool, input),
            concurrent: entry.tool.concurrent ?? false,
          };
        },
        async call(req) {
          try {
            return await runCall(
              { tools, policy: deps.policy, audit: deps.audit, logger: deps.logger, maxContentBytes },
              ctx,
              req,
            );
          } catch (e) {
            // runCall handles every expected failure; this is the last guard so a call never throws.
            deps.logger.error(`tool ${req.name}: runtime failure: ${(e as Error)?.stack ?? String(e)}`);
            return {
              isError: true,
              content: `Internal error while running ${req.name}.`,
              code: ErrorCodes.InternalError,
              reason: 'internal_error',
              durationMs: 0,
            };
          }
        },
      };
    },
  };
}

function toJsonSchema(tool: Tool<unknown>): Record<string, unknown> {
  let schema: Record<string, unknown>;
  try {
    schema = z.toJSONSchema(tool.input, { io: 'input', unrepresentable: 'any' });
  } catch (e) {
    throw new ShadowboxError(
      ErrorCodes.ConfigInvalid,
      'invalid_tool_schema',
      `tool ${tool.name}: input schema has no JSON Schema form`,
      { tool: tool.name },
      { cause: e },
    );
  }
  delete schema.$schema;
  return schema;
}
