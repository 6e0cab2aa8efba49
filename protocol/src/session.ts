import { z } from 'zod';
import { defineNotification, defineRequest, lazySchema } from './define.js';
import { ImageBlock, InstructionFile, PlanItem, Usage } from './agent-types.js';

export const ToolKind = lazySchema(() =>
  z.enum(['read', 'edit', 'delete', 'move', 'search', 'execute', 'fetch', 'think', 'other']),
);
/** An ACP tool kind: what a call does (the policy matches on it, clients show it). */
export type ToolKind = z.infer<ReturnType<typeof ToolKind>>;
/** A policy decision: run the call, ask a person, or refuse it. */
export const PolicyAction = lazySchema(() => z.enum(['allow', 'ask', 'deny']));
export type PolicyAction = z.infer<ReturnType<typeof PolicyAction>>;
export const PolicyMode = lazySchema(() =>
  z
    .enum(['read-only', 'review', 'auto'])
    .describe(
      'read-only: only read/search tools; review (default): edits land in the shadow, network and MCP ask; auto: everything not denied runs.',
    ),
);
export type PolicyMode = z.infer<ReturnType<typeof PolicyMode>>;
export const StopReason = lazySchema(() =>
  z.enum(['end_turn', 'max_tokens', 'max_turns', 'cancelled', 'error', 'interrupted', 'refusal']),
);
/** Why a prompt's run ended. */
export type StopReason = z.infer<ReturnType<typeof StopReason>>;

/** How to reach one MCP server: a command to spawn (stdio) or a URL (streamable HTTP); the shape config.json's `mcpServers` uses. */
export const McpServerSpec = lazySchema(() =>
  z.union([
    z.strictObject({
      command: z.string().min(1).describe('Executable to spawn on the daemon host.'),
      args: z.array(z.string()).default([]),
      env: z
        .record(z.string(), z.string())
        .default({})
        .describe('Added to the minimal environment (PATH, HOME, LANG of the daemon).'),
      cwd: z.string().optional().describe("Working directory of the process (default: the daemon's)."),
    }),
    z.strictObject({
      url: z.url().describe('Streamable HTTP endpoint.'),
      headers: z.record(z.string(), z.string()).default({}),
    }),
  ]),
);
export type McpServerSpec = z.infer<ReturnType<typeof McpServerSpec>>;

/** MCP servers by name; the name becomes the `<server>` of the tool names `mcp__<server>__<tool>`. */
export const McpServers = lazySchema(() =>
  z.record(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]*$/)
      .max(40),
    McpServerSpec(),
  ),
);
export type McpServers = z.infer<ReturnType<typeof McpServers>>;

export const SessionInfo = lazySchema(() =>
  z.object({
    sessionId: z.string(),
    workspace: z.string().describe('Real path of the workspace root.'),
    model: z.string(),
    mode: PolicyMode(),
    title: z.string().describe('First prompt, shortened.'),
    createdAt: z.string(),
    updatedAt: z.string(),
    state: z.enum(['idle', 'running', 'waiting_permission']),
    driver: z.string().nullable().describe('clientId holding the driver role (may prompt), or null.'),
    attached: z.array(z.string()).describe('clientIds attached now.'),
    events: z.number().int().describe('Number of events in the log.'),
    prompts: z
      .number()
      .int()
      .describe('Prompts sent in the session (0 for sessions of CLI tool commands such as `shadowbox python`).'),
    mcpServers: z
      .array(z.string())
      .optional()
      .describe(
        'Names of the MCP servers given to this session (session/create, session/configure); their commands, env and headers are never sent back.',
      ),
    usage: Usage()
      .optional()
      .describe('Token usage of every model call of the session so far (rewound turns included).'),
    instructions: z
      .array(InstructionFile())
      .optional()
      .describe('The instruction files the model was last given (AGENTS.md, CLAUDE.md, the user-level file).'),
    plan: z.array(PlanItem()).optional().describe('The agent’s current plan (the last `plan` event).'),
    context: z
      .object({ tokens: z.number().int(), window: z.number().int() })
      .optional()
      .describe('Estimated tokens the next model call sends, and the model’s context window.'),
  }),
);
export type SessionInfo = z.infer<ReturnType<typeof SessionInfo>>;

export const ToolDecision = lazySchema(() =>
  z.object({
    action: PolicyAction(),
    rule: z.string().describe('The rule that decided, e.g. "mode:review kind:edit" or "project:allow tool=grep".'),
    by: z.string().optional().describe('clientId that answered, when a person decided.'),
  }),
);
export type ToolDecision = z.infer<ReturnType<typeof ToolDecision>>;

export const PermissionOption = lazySchema(() => z.enum(['allow_once', 'allow_session', 'allow_project', 'deny']));
export type PermissionOption = z.infer<ReturnType<typeof PermissionOption>>;
export const PermissionOutcome = lazySchema(() =>
  z.enum(['allow_once', 'allow_session', 'allow_project', 'deny', 'cancelled', 'timeout']),
);
export type PermissionOutcome = z.infer<ReturnType<typeof PermissionOutcome>>;

/**
 * Who asked for a tool call: absent or `model` for the agent's calls in a turn; `client` for a direct
 * `tools/call` (turnId `direct:<clientId>`, outside any turn; the model never sees it).
 */
export const ToolCallOrigin = lazySchema(() =>
  z
    .enum(['model', 'client'])
    .describe(
      'Who asked for the call: absent or `model` for the agent in a turn; `client` for a direct tools/call (turnId `direct:<clientId>`, outside any turn, not part of the conversation the model sees).',
    ),
);
export type ToolCallOrigin = z.infer<ReturnType<typeof ToolCallOrigin>>;

/** Every step of a session, appended to its log first, then fanned out to attached clients. */
/** Why a turn ended with stopReason error or interrupted: a code, a stable reason, and whether sending the prompt again may work. */
export const TurnError = lazySchema(() =>
  z.object({
    code: z.number().int(),
    reason: z.string(),
    message: z.string(),
    retryable: z
      .boolean()
      .optional()
      .describe('True when the failure is transient (the model server timed out, was unreachable or overloaded).'),
  }),
);
export type TurnError = z.infer<ReturnType<typeof TurnError>>;

export const SessionEventBody = lazySchema(() =>
  z.discriminatedUnion('type', [
    z.object({ type: z.literal('session_created'), workspace: z.string(), model: z.string(), mode: PolicyMode() }),
    z.object({
      type: z.literal('user_message'),
      turnId: z.string(),
      text: z.string(),
      clientId: z.string(),
      images: z
        .array(ImageBlock())
        .optional()
        .describe('Images sent with the prompt (given to the model with the text).'),
      command: z.string().optional().describe('The slash command that sent this prompt (e.g. `init`).'),
    }),
    z.object({ type: z.literal('turn_start'), turnId: z.string(), model: z.string() }),
    z.object({ type: z.literal('message_delta'), turnId: z.string(), text: z.string() }),
    z.object({ type: z.literal('reasoning_delta'), turnId: z.string(), text: z.string() }),
    z.object({
      type: z.literal('assistant_message'),
      turnId: z.string(),
      text: z.string(),
      reasoning: z.string().optional(),
      toolCalls: z.array(z.object({ callId: z.string(), tool: z.string(), arguments: z.string() })).default([]),
    }),
    z.object({
      type: z.literal('tool_call'),
      turnId: z.string(),
      callId: z.string(),
      tool: z.string(),
      kind: ToolKind(),
      summary: z.string(),
      input: z.unknown(),
      status: z.literal('pending'),
      origin: ToolCallOrigin().optional(),
      clientId: z.string().optional().describe('With origin `client`: the client that called the tool.'),
    }),
    z.object({
      type: z.literal('tool_call_update'),
      turnId: z.string(),
      callId: z.string(),
      status: z.enum(['awaiting_permission', 'running', 'completed', 'failed']),
      content: z.string().optional().describe('What the model sees (capped).'),
      output: z.string().optional().describe('Full output for clients.'),
      code: z.number().int().optional(),
      reason: z.string().optional(),
      decision: ToolDecision().optional(),
      durationMs: z.number().optional(),
      changed: z.array(z.string()).optional(),
      data: z.record(z.string(), z.unknown()).optional(),
      auditSeq: z
        .number()
        .int()
        .optional()
        .describe("Seq of the call's write-ahead entry in the workspace's audit log (audit/verify cross-checks it)."),
      origin: ToolCallOrigin().optional(),
    }),
    z
      .object({
        type: z.literal('tool_output'),
        turnId: z.string(),
        callId: z.string(),
        stream: z.enum(['stdout', 'stderr']),
        text: z.string(),
      })
      .describe(
        'Live output of a running tool call (shell, python), sent while it runs: chunks joined and sent at most every 100 ms, at most 256 KiB per call (then one note says the rest is in the result). The final tool_call_update carries the whole (capped) output.',
      ),
    z.object({
      type: z.literal('permission_request'),
      turnId: z.string(),
      requestId: z.string(),
      callId: z.string(),
      tool: z.string(),
      kind: ToolKind(),
      summary: z.string(),
      input: z.unknown(),
      rule: z.string(),
      options: z.array(PermissionOption()),
    }),
    z.object({
      type: z.literal('permission_resolved'),
      requestId: z.string(),
      callId: z.string(),
      outcome: PermissionOutcome(),
      by: z.string().optional(),
    }),
    z.object({
      type: z.literal('model_retry'),
      turnId: z.string(),
      attempt: z.number().int().describe('The attempt about to start (2 for the first retry).'),
      maxAttempts: z.number().int(),
      url: z.string().describe('The endpoint that failed (no credentials).'),
      reason: z
        .string()
        .describe('network, timeout, rate_limited, server_error or overloaded (the ProviderUnavailable reasons).'),
      message: z.string().describe('The cause, e.g. "connect ECONNREFUSED 127.0.0.1:11434" or "HTTP 503".'),
    }),
    // Keys in the order the daemon writes them (type and turnId first), so a parsed event serializes the same.
    z
      .object({
        type: z.literal('usage'),
        turnId: z.string(),
        ...Usage().shape,
        contextWindow: z.number().int().optional().describe('The model’s context window (for a context gauge).'),
      })
      .describe('Token usage of one model call (input includes cached input).'),
    z
      .object({ type: z.literal('plan'), turnId: z.string(), items: z.array(PlanItem()) })
      .describe('The agent replaced its plan (the `plan` tool); clients show it as a checklist.'),
    z
      .object({ type: z.literal('instructions'), files: z.array(InstructionFile()) })
      .describe('The instruction files given to the model changed (a file appeared, changed, or went away).'),
    z
      .object({
        type: z.literal('compaction'),
        turnId: z.string().nullable(),
        summary: z.string().describe('The compact record that replaces the older messages.'),
        keepFrom: z
          .number()
          .int()
          .nonnegative()
          .describe(
            'Index, in the full conversation rebuilt from this log, of the first message kept after the summary.',
          ),
        compacted: z.number().int().describe('How many messages the summary replaces.'),
        tokensBefore: z.number().int(),
        tokensAfter: z.number().int(),
        trigger: z.enum(['auto', 'command']),
      })
      .describe('Older turns were summarized; the model sees the summary and the messages from keepFrom on.'),
    z
      .object({
        type: z.literal('rewind'),
        toTurn: z
          .string()
          .nullable()
          .describe('The turn the session went back to the end of (null: before the first).'),
        rewound: z.array(z.string()).describe('Turns taken back; they stay in the log, marked by this event.'),
        files: z.array(z.string()).describe('Shadow paths put back to what they held at the end of toTurn.'),
        clientId: z.string().optional(),
      })
      .describe('The conversation and the shadow workspace went back to the end of an earlier turn.'),
    z.object({
      type: z.literal('checkpoint'),
      turnId: z.string(),
      commit: z.string(),
      summary: z.string(),
      files: z.array(z.string()),
    }),
    z.object({
      type: z.literal('turn_end'),
      turnId: z.string(),
      stopReason: StopReason(),
      error: TurnError().optional(),
      usage: Usage().optional().describe('Usage of the turn’s model calls together.'),
    }),
    z.object({ type: z.literal('client_attached'), clientId: z.string(), name: z.string(), kind: z.string() }),
    z.object({ type: z.literal('client_detached'), clientId: z.string() }),
    z.object({ type: z.literal('driver_changed'), driver: z.string().nullable() }),
    z.object({ type: z.literal('settings_changed'), model: z.string(), mode: PolicyMode() }),
    z.object({
      type: z.literal('review'),
      action: z.enum(['accept', 'reject', 'undo']),
      paths: z.array(z.string()),
      clientId: z.string().optional(),
    }),
    z.object({ type: z.literal('daemon_restarted'), interruptedTurn: z.string().nullable() }),
  ]),
);
export type SessionEventBody = z.infer<ReturnType<typeof SessionEventBody>>;

export const SessionEvent = lazySchema(() =>
  z.object({
    sessionId: z.string(),
    seq: z
      .number()
      .int()
      .nonnegative()
      .describe(
        'Position in the session log, from 0; replay and live events share one sequence. An event is sent only once it is written to the session log, so a seq a client has seen always names the same event, also after a crash.',
      ),
    time: z.string(),
    event: SessionEventBody(),
  }),
);
export type SessionEvent = z.infer<ReturnType<typeof SessionEvent>>;

export const SessionCreate = defineRequest({
  method: 'session/create',
  direction: 'clientToDaemon',
  doc: "Creates a session on a workspace directory and attaches the caller as its driver. `mcpServers` (an ACP editor's servers, say) are started before the answer (each gets 15 s; one that fails is logged and offers no tools) and their tools, `mcp__<server>__<tool>`, belong to this session only, next to the servers of config.json (a name config.json uses already is skipped). They run on the daemon host, not in the sandbox, with a minimal environment (PATH, HOME, LANG plus their `env`), so their tools ask in review mode. The servers are kept in the session's meta: after a daemon restart they start again when the session is next attached, prompted or its tools listed. Only socket and stdio clients may pass them (web clients get unauthorized).",
  params: () =>
    z.object({
      workspace: z.string().min(1).describe('Absolute path of the workspace directory (the daemon realpaths it).'),
      model: z
        .string()
        .optional()
        .describe('"openai/<model>" or "anthropic/<model>"; default from SHADOWBOX_MODEL or the config file.'),
      mode: PolicyMode().optional(),
      title: z.string().max(200).optional(),
      mcpServers: McpServers()
        .optional()
        .describe('MCP servers of this session only, by name (the config.json shape).'),
    }),
  result: () => SessionInfo(),
});

export const SessionList = defineRequest({
  method: 'session/list',
  direction: 'clientToDaemon',
  doc: 'Lists sessions known to the daemon (persisted across restarts), newest first, optionally for one workspace.',
  params: () => z.object({ workspace: z.string().optional() }).default({}),
  result: () => z.object({ sessions: z.array(SessionInfo()) }),
});

export const SessionAttach = defineRequest({
  method: 'session/attach',
  direction: 'clientToDaemon',
  doc: 'Attaches the caller to a session: the result carries the history (events written to the log with seq ≥ fromSeq); every later event follows as session/event, without a gap or a repeat, possibly before this answer arrives (drop seqs you already have). After a daemon crash, reattach with fromSeq = last seen seq + 1: the turn that was running ends there with turn_end (stopReason interrupted) and daemon_restarted. `driver: true` takes the driver role (hand-over: the previous driver is told by driver_changed).',
  params: () =>
    z.object({
      sessionId: z.string(),
      fromSeq: z.number().int().nonnegative().default(0),
      driver: z.boolean().default(false),
    }),
  result: () => z.object({ session: SessionInfo(), history: z.array(SessionEvent()) }),
});

export const SessionDetach = defineRequest({
  method: 'session/detach',
  direction: 'clientToDaemon',
  doc: 'Detaches the caller; releases its driver role. A disconnect does the same.',
  params: () => z.object({ sessionId: z.string() }),
  result: () => z.null(),
});

export const SessionPrompt = defineRequest({
  method: 'session/prompt',
  direction: 'clientToDaemon',
  doc: 'Sent by the driver: runs one agent turn (model → tools → model …). Resolves when the turn ends, with its stop reason; progress arrives as session/event. Cancel with session/cancel or $/cancelRequest.',
  params: () =>
    z.object({
      sessionId: z.string(),
      text: z.string().min(1).max(1_000_000),
      images: z
        .array(ImageBlock())
        .max(8)
        .optional()
        .describe(
          'Images for models that accept them (config.json `models.<spec>.images`, or a known vision model); others refuse the prompt (InvalidParams, reason images_not_supported).',
        ),
      maxTurns: z
        .number()
        .int()
        .positive()
        .max(1000)
        .optional()
        .describe('Model turns allowed for this prompt (default from config, 25).'),
    }),
  result: () =>
    z.object({
      turnId: z.string(),
      stopReason: StopReason(),
      error: TurnError().optional(),
      usage: Usage().optional(),
    }),
});

export const SessionCancel = defineRequest({
  method: 'session/cancel',
  direction: 'clientToDaemon',
  doc: 'Cancels the running turn of a session: the model stream and running tools stop, pending permission questions are answered "cancelled", the turn ends with stopReason cancelled. Any attached client may cancel.',
  params: () => z.object({ sessionId: z.string() }),
  result: () => z.object({ cancelled: z.boolean().describe('False when no turn was running.') }),
});

export const SessionConfigure = defineRequest({
  method: 'session/configure',
  direction: 'clientToDaemon',
  doc: "Changes the session model and/or policy mode (terminal /model, ACP session/set_mode) and/or its MCP servers (ACP session/load and session/resume). Driver only. `mcpServers` replaces the session's set: the servers are restarted only when the set differs from the current one (the answer waits for them, as in session/create); `{}` removes them. Changing them while a turn runs is refused (SessionBusy, reason turn_running).",
  params: () =>
    z.object({
      sessionId: z.string(),
      model: z.string().optional(),
      mode: PolicyMode().optional(),
      mcpServers: McpServers().optional(),
    }),
  result: () => SessionInfo(),
});

export const SessionEventNotification = defineNotification({
  method: 'session/event',
  direction: 'daemonToClient',
  doc: 'One session step, sent to every client attached to the session, in seq order, once it is written to the session log (in batches: a fast stream costs one write per batch). A request answers after the events it caused are written and fdatasynced (session/prompt after turn_end).',
  params: () => SessionEvent(),
});

export const PermissionRequest = defineRequest({
  method: 'permission/request',
  direction: 'daemonToClient',
  doc: 'Sent by the daemon to the attached clients that declared `permissions` when a tool call needs a person. The first answer wins; the daemon cancels the request at the others ($/cancelRequest) and emits permission_resolved. Without an answer within the configured timeout the call is denied.',
  params: () =>
    z.object({
      sessionId: z.string(),
      requestId: z.string(),
      callId: z.string(),
      tool: z.string(),
      kind: ToolKind(),
      summary: z.string(),
      input: z.unknown(),
      rule: z.string().describe('The rule that asked.'),
      options: z.array(PermissionOption()),
    }),
  result: () => z.object({ outcome: PermissionOption() }),
});

export const PermissionRespond = defineRequest({
  method: 'permission/respond',
  direction: 'clientToDaemon',
  doc: 'Answers a pending permission question by requestId (for clients that saw it in the history, e.g. after a restart, rather than as a permission/request).',
  params: () => z.object({ sessionId: z.string(), requestId: z.string(), outcome: PermissionOption() }),
  result: () => z.object({ accepted: z.boolean().describe('False when another answer won already.') }),
});
