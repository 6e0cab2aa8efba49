// The model contract: what the agent loop sends a model and the events a model streams back.
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
  /** An attempt failed before any output and the SDK retries it (attempt = the one about to start). */
  | { type: 'retry'; attempt: number; maxAttempts: number; url: string; reason: string; message: string }
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
