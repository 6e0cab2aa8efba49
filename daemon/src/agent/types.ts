import type { SessionEventBody } from '@shadowbox/protocol';

// The provider contract the loop drives (implemented in ../providers).
export interface ToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}
export type ChatMessage =
  | { role: 'user'; content: string }
  | {
      role: 'assistant';
      content: string;
      reasoning?: string;
      toolCalls?: { id: string; name: string; arguments: string }[];
    }
  | { role: 'tool'; toolCallId: string; name: string; content: string; isError?: boolean };
export type ModelEvent =
  | { type: 'text'; delta: string }
  | { type: 'reasoning'; delta: string }
  | { type: 'tool_call_start'; index: number; id: string; name: string }
  | { type: 'tool_call_delta'; index: number; argumentsDelta: string }
  | { type: 'tool_call_end'; index: number; id: string; name: string; arguments: string }
  | { type: 'usage'; inputTokens: number; outputTokens: number }
  | { type: 'stop'; reason: 'end_turn' | 'tool_use' | 'max_tokens' | 'refusal' };
export interface ModelRequest {
  system?: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  maxTokens?: number;
}
/** What the loop needs of a model provider. */
export interface ModelClient {
  readonly model: string;
  readonly contextWindow: number;
  stream(req: ModelRequest, signal: AbortSignal): AsyncIterable<ModelEvent>;
}

/** Outcome of one tool call as the runtime reports it (never thrown). */
export interface ToolCallOutcome {
  isError: boolean;
  content: string;
  output?: string;
  code?: number;
  reason?: string;
  decision?: { action: 'allow' | 'ask' | 'deny'; rule: string; by?: string };
  durationMs: number;
  changed?: string[];
  data?: Record<string, unknown>;
}

/** What the loop needs of the tool runtime. */
export interface AgentTools {
  specs(): ToolSpec[];
  /** Kind, summary and concurrency of a call; null when the tool is unknown. */
  describe(name: string, input: unknown): { kind: ToolKindName; summary: string; concurrent: boolean } | null;
  call(req: {
    turnId: string;
    callId: string;
    name: string;
    input: unknown;
    signal: AbortSignal;
  }): Promise<ToolCallOutcome>;
}
export type ToolKindName = 'read' | 'edit' | 'delete' | 'move' | 'search' | 'execute' | 'fetch' | 'other';

export type StopReason = 'end_turn' | 'max_tokens' | 'max_turns' | 'cancelled' | 'error' | 'interrupted' | 'refusal';
export interface TurnError {
  code: number;
  reason: string;
  message: string;
  /** The failure is transient (ProviderUnavailable): the same prompt may work when sent again. */
  retryable?: boolean;
}

/** Limits of one prompt's run. */
export interface TurnLimits {
  maxTurns: number;
  /** Fraction of the context window at which old tool outputs are elided. */
  contextHighWater: number;
}

export type Emit = (body: SessionEventBody) => void;
