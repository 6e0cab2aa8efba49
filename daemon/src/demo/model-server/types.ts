// What a scripted reply is made of, shared by the server and its two wire encoders.

/** One scripted tool call; `arguments` as a string is sent verbatim (e.g. to script invalid JSON). */
export interface ScriptedToolCall {
  id?: string;
  name: string;
  arguments: Record<string, unknown> | string;
}

/** One scripted model response. */
export interface Reply {
  /** Streamed text chunks, one SSE event each. */
  text?: string[];
  /** Streamed reasoning chunks (OpenAI-compatible `reasoning_content`, Anthropic `thinking` block). */
  reasoning?: string[];
  /** Delay before every SSE event after the first, in ms. */
  delayMs?: number;
  /** Tool calls after the text; each one's arguments are split across several chunks. */
  toolCalls?: ScriptedToolCall[];
  /** Default: `tool_use` when there are tool calls, else `end_turn`. */
  stopReason?: 'end_turn' | 'tool_use' | 'max_tokens' | 'refusal';
  /**
   * Default: input ≈ request bytes / 4, output ≈ output characters / 4. `cached` input tokens came from the
   * prompt cache (OpenAI `prompt_tokens_details.cached_tokens`, Anthropic `cache_read_input_tokens`) and
   * `cacheWrite` went into it (Anthropic `cache_creation_input_tokens`); both are part of `input`.
   */
  usage?: { input: number; output: number; cached?: number; cacheWrite?: number };
  /** Respond with this HTTP error instead of a stream; `retryAfter` (seconds) becomes a Retry-After header. */
  error?: { status: number; body?: unknown; retryAfter?: number };
  /** Cut the connection after this many SSE events; 0 cuts it before any response (a connection reset). */
  dropAfterChunks?: number;
  /** Stream the content events, then never finish (for cancel tests). */
  hang?: boolean;
  /**
   * Stream the content events, then finish only once this has settled: a test that must act while the turn still
   * runs (type ahead, queue a prompt) ends it when it has, instead of racing a delay.
   */
  holdUntil?: PromiseLike<unknown>;
  /** Never answer at all: no status line, no headers; the connection stays open (a hung server). */
  stallBeforeHeaders?: boolean;
  /** Send the headers and this many SSE events, then nothing more, never ending (0: headers only). */
  stallAfterChunks?: number;
  /** After this many SSE events, send one whose data is not JSON (a broken proxy), then go on. */
  malformedAfterChunks?: number;
}

/** What the encoders need to know about the request being answered. */
export interface RequestInfo {
  model: string;
  includeUsage: boolean;
  requestBytes: number;
}
