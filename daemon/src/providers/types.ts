// The model contract: what the agent loop sends a model and the events a model streams back.
export interface ToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}
/** An image of a user message: base64 bytes and their media type. */
export interface ChatImage {
  mimeType: 'image/png' | 'image/jpeg' | 'image/gif' | 'image/webp';
  data: string;
}
export type ChatMessage =
  | { role: 'user'; content: string; images?: ChatImage[] }
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
  | {
      type: 'usage';
      /** Input tokens, cached ones included. */
      inputTokens: number;
      outputTokens: number;
      /** Input tokens read from the prompt cache (OpenAI cached_tokens, Anthropic cache_read_input_tokens). */
      cachedInputTokens?: number;
      /** Input tokens written to the prompt cache (Anthropic cache_creation_input_tokens). */
      cacheWriteTokens?: number;
    }
  /** An attempt failed before any output and the SDK retries it (attempt = the one about to start). */
  | { type: 'retry'; attempt: number; maxAttempts: number; url: string; reason: string; message: string }
  | { type: 'stop'; reason: 'end_turn' | 'tool_use' | 'max_tokens' | 'refusal' };
export interface ModelRequest {
  system?: string;
  messages: ChatMessage[];
  tools: ToolSpec[];
  maxTokens?: number;
}
/** USD per million tokens (config.json `models.<spec>.prices`); cached and cache-write default to input. */
export interface ModelPrices {
  input: number;
  output: number;
  cachedInput?: number;
  cacheWrite?: number;
}

/** What the loop needs of a model provider. */
export interface ModelClient {
  readonly model: string;
  readonly contextWindow: number;
  /** Whether the model takes images in user messages. */
  readonly images?: boolean;
  /** Prices for the cost estimate; absent when not configured. */
  readonly prices?: ModelPrices;
  stream(req: ModelRequest, signal: AbortSignal): AsyncIterable<ModelEvent>;
}
