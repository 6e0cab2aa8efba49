import type { PlanItem, ToolKind as ProtocolToolKind } from '@shadowbox/protocol';
import type { z } from 'zod';
import type { WorkspaceView } from '../shadow/index.js';

/** ACP tool kinds (protocol's ToolKind); the policy matches on them and clients show them. */
export type ToolKind = ProtocolToolKind;

/** What a tool handler may use: the session's layered workspace view and a cancellation signal. */
export interface ToolContext {
  sessionId: string;
  /** Real path of the workspace root. */
  workspace: string;
  view: WorkspaceView;
  signal: AbortSignal;
  /**
   * The text of the person's open editor buffer of a canonical workspace-relative path (unsaved
   * changes included), or null (no buffer, no answer within ~300 ms, no editor that offers buffers).
   * Only read_file uses it, and only for a path the shadow has not changed (the agent's version is newer).
   */
  readBuffer?: (path: string) => Promise<string | null>;
  /** Streams live output to every attached client while the tool runs (shell, python); absent when nobody listens. */
  progress?: (chunk: ToolProgress) => void;
  /** The call's id (for what a tool records about it, e.g. the shell proxy's audit entries). */
  callId?: string;
  /** Replaces the session's plan (a `plan` session event); absent outside a session turn (tools/call). */
  plan?: (items: PlanItem[]) => void;
  /** The policy lets this call run on a read-only workspace only (read-only mode): a sandboxed command mounts it read-only. */
  readOnly?: boolean;
  /** Path globs a deny rule keeps from this call (the view refuses them; a sandboxed command must not see them either). */
  denied?: readonly { glob: string; rule: string }[];
}

/** One chunk of a running tool's live output. */
export interface ToolProgress {
  stream: 'stdout' | 'stderr';
  text: string;
}

/**
 * What a handler returns. `content` is what the model sees (the runtime caps it); `output` is the
 * full output kept for clients; `isError` marks a failure the model should see and react to.
 */
export interface ToolOutput {
  content: string;
  isError?: boolean;
  output?: string;
  /** Workspace-relative paths the call changed (for review / ACP locations). */
  changed?: string[];
  /** Structured extra data for clients (e.g. exit code, duration of a WASI run). */
  data?: Record<string, unknown>;
  /** What the call's `tool.call` audit entry records besides the outcome (e.g. a command, its exit status, network decisions). */
  audit?: Record<string, unknown>;
}

/**
 * What a call is about to touch, derived from its validated input before it runs, so the policy
 * can decide without running it. Paths are workspace-relative; hosts are for fetch.
 */
export interface ToolTarget {
  paths?: string[];
  hosts?: string[];
  /** The port a fetch goes to (rules with a `port` match only it). */
  port?: number;
  /** A host command (`shell`): rules with a `command` glob match its simple commands. */
  command?: string;
  /** The host command asks for the network (through the policy-checked proxy). */
  network?: boolean;
  /** e.g. a bundle name for run_bundle. */
  resource?: string;
}

/** A tool: declared once, validated by the runtime, run through policy and audit. */
export interface Tool<I = unknown> {
  name: string;
  kind: ToolKind;
  description: string;
  input: z.ZodType<I>;
  /** Where the tool comes from, shown by tools/list (default: 'builtin', or 'mcp' for `mcp__*` names). */
  source?: 'builtin' | 'bundle' | 'mcp';
  /** Whether several calls of this tool may run concurrently within one model turn. */
  concurrent?: boolean;
  /** Describe the targets of a call for the policy (defaults: none). */
  targets?: (input: I) => ToolTarget;
  /** One-line human summary of a call, e.g. "read src/a.ts:1-40". */
  summarize?: (input: I) => string;
  handler: (input: I, ctx: ToolContext) => Promise<ToolOutput>;
}

/**
 * A tool of any input type, for lists of tools: the runtime validates each call's input with that tool's own
 * schema before its handler sees it, so the erased input type never reaches a handler unchecked.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- type erasure for heterogeneous tool lists (see above)
export type AnyTool = Tool<any>;

/**
 * Declare a tool with its input type inferred from the zod schema. `input` is the schema, or a function that builds
 * it (a `lazySchema`), which then runs on the first read of `input`: a call's validation or `tools/list`. zod builds a
 * schema eagerly, and building every built-in tool's at import was part of each daemon start.
 */
export function defineTool<S extends z.ZodType>(tool: Tool<z.infer<S>> & { input: S }): Tool<z.infer<S>>;
export function defineTool<S extends z.ZodType>(
  tool: Omit<Tool<z.infer<S>>, 'input'> & { input: () => S },
): Tool<z.infer<S>>;
export function defineTool(tool: Omit<AnyTool, 'input'> & { input: z.ZodType | (() => z.ZodType) }): AnyTool {
  const { input, ...rest } = tool;
  if (typeof input !== 'function') return { ...rest, input };
  return {
    ...rest,
    get input() {
      return input();
    },
  };
}
