import { z } from 'zod';
import { defineRequest, lazySchema } from './define.js';
import { PermissionOption, PolicyAction, PolicyMode, ToolDecision, ToolKind } from './session.js';

export const ToolInfo = lazySchema(() =>
  z.object({
    name: z.string(),
    description: z.string(),
    kind: ToolKind(),
    inputSchema: z.record(z.string(), z.unknown()).describe('JSON Schema of the input.'),
    source: z.enum(['builtin', 'bundle', 'mcp']),
  }),
);
export type ToolInfo = z.infer<ReturnType<typeof ToolInfo>>;

export const ToolsList = defineRequest({
  method: 'tools/list',
  direction: 'clientToDaemon',
  doc: 'Lists the tools a session can call (built-ins, bundle tools, MCP tools), with kinds and JSON Schemas.',
  params: () => z.object({ sessionId: z.string().optional() }).default({}),
  result: () => z.object({ tools: z.array(ToolInfo()) }),
});

export const ToolsCall = defineRequest({
  method: 'tools/call',
  direction: 'clientToDaemon',
  doc: "A client invokes a tool directly in a session, through the same policy and audit as the agent (the CLI uses it for `shadowbox python` and `shadowbox wasi run`). Tool failures are results with isError, not JSON-RPC errors. Every client attached to the session sees the call as session events, like the agent's: a `tool_call` and `tool_call_update`s (running, then completed or failed with its reason and changed files), marked `origin: client`, turnId `direct:<clientId>`.",
  params: () =>
    z.object({
      sessionId: z.string(),
      tool: z.string(),
      input: z.unknown(),
      progressToken: z
        .union([z.string(), z.number()])
        .optional()
        .describe(
          "With a token, the call's live output (shell, python) also comes to this client as $/progress `report`s carrying `stream` and the text in `message` (every attached client gets it as tool_output events).",
        ),
    }),
  result: () =>
    z.object({
      callId: z.string(),
      isError: z.boolean(),
      content: z.string(),
      output: z.string().optional(),
      code: z.number().int().optional(),
      reason: z.string().optional(),
      decision: ToolDecision()
        .optional()
        .describe(
          'The policy decision; absent when the call never reached the policy (unknown tool, invalid input, cancelled first).',
        ),
      durationMs: z.number(),
      changed: z.array(z.string()).optional(),
      data: z.record(z.string(), z.unknown()).optional(),
      auditSeq: z.number().int().optional().describe("Seq of the call's write-ahead entry in the audit log."),
    }),
});

/**
 * One project rule. Strict: an unknown key (`paths` for `path`) is refused, never dropped — dropping it
 * would turn a narrow rule into one about everything.
 */
export const PolicyRule = lazySchema(() =>
  z
    .object({
      id: z.string().min(1).optional(),
      action: PolicyAction(),
      tool: z.string().min(1).optional().describe('Tool name, or a glob such as "mcp__*".'),
      kind: ToolKind().optional(),
      path: z.string().min(1).optional().describe('Path glob relative to the workspace (picomatch).'),
      host: z
        .string()
        .min(1)
        .optional()
        .describe('Host for fetch: exact host, IP address (any notation) or *.domain; matched in canonical form.'),
      port: z
        .number()
        .int()
        .min(1)
        .max(65535)
        .optional()
        .describe(
          'Port for fetch (with host); a non-public address is reachable only through an allow rule naming it and its port.',
        ),
      command: z
        .string()
        .min(1)
        .max(1000)
        .optional()
        .describe(
          'For `shell` (kind execute): a glob over each simple command of the line (`*` any text): "npm test*", "git push*". Deny and ask rules match when any command of the line matches, allow rules when all do. A convenience, not a boundary: the sandbox is.',
        ),
      network: z
        .boolean()
        .optional()
        .describe(
          'For `shell`: the rule matches only calls that ask for the network (true) or only those that do not (false).',
        ),
    })
    .strict(),
);
export type PolicyRule = z.infer<ReturnType<typeof PolicyRule>>;

export const PolicyList = defineRequest({
  method: 'policy/list',
  direction: 'clientToDaemon',
  doc: 'Shows the effective policy of a workspace: mode defaults, project rules (the "always for this project" file) and protected paths.',
  params: () => z.object({ workspace: z.string() }),
  result: () =>
    z.object({ mode: PolicyMode(), rules: z.array(PolicyRule()), protected: z.array(z.string()), file: z.string() }),
});

export const PolicySetRules = defineRequest({
  method: 'policy/set',
  direction: 'clientToDaemon',
  doc: 'Replaces or edits the project rules of a workspace (a person at the CLI; the agent has no tool that reaches this).',
  params: () =>
    z
      .object({
        workspace: z.string(),
        add: z.array(PolicyRule()).default([]),
        remove: z.array(z.string()).default([]),
      })
      .strict(),
  result: () => z.object({ rules: z.array(PolicyRule()) }),
});

export { PermissionOption };
