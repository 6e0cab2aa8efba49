import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from 'openai/resources/chat/completions';
import type { ChatMessage, ModelClient, ModelEvent, ModelRequest, ToolSpec } from './types.js';
import type { Logger } from '../state/index.js';
import { contextWindowFor, DEFAULT_BASE_URLS, type ProviderConfig } from './config.js';
import { causeText, observeAttempts, withRetryEvents } from './attempts.js';
import { ModelDeadline } from './deadline.js';
import { capRetryAfter, openStream, pumpStream, retryAfterMs, sdkLogger, type FailureInfo } from './errors.js';

export interface ClientDeps {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  fetch: typeof fetch;
}

/** A ModelClient over OpenAI Chat Completions streaming (api.openai.com or any compatible server). */
export function createOpenAIModel(p: ProviderConfig, model: string, deps: ClientDeps): ModelClient {
  const client = new OpenAI({
    apiKey: p.apiKey ?? 'no-key',
    baseURL: p.baseUrl,
    organization: deps.env.OPENAI_ORG_ID ?? null,
    project: deps.env.OPENAI_PROJECT_ID ?? null,
    maxRetries: p.maxRetries,
    fetch: observeAttempts(capRetryAfter(deps.fetch, p.maxRetryAfterMs), p.maxRetries),
    defaultHeaders: p.headers,
    logger: sdkLogger(deps.logger, p.name),
    logLevel: 'info',
  });
  const official = p.baseUrl === DEFAULT_BASE_URLS.openai;
  return {
    model: `${p.name}/${model}`,
    contextWindow: contextWindowFor(p, model),
    async *stream(req: ModelRequest, signal: AbortSignal): AsyncIterable<ModelEvent> {
      const ctx = {
        provider: p.name,
        model,
        apiKeyEnv: p.apiKeyEnv,
        baseUrl: p.baseUrl,
        attempts: p.maxRetries + 1,
        emitted: false,
      };
      const maxTokens = req.maxTokens ?? p.maxTokens;
      const body: ChatCompletionCreateParamsStreaming = {
        model,
        messages: toOpenAIMessages(req.system, req.messages),
        stream: true,
        stream_options: { include_usage: true },
        ...(req.tools.length ? { tools: req.tools.map(toOpenAITool) } : {}),
        // api.openai.com wants max_completion_tokens (o-series reject max_tokens); compatible servers know max_tokens.
        ...(maxTokens ? (official ? { max_completion_tokens: maxTokens } : { max_tokens: maxTokens }) : {}),
      };
      // Failed attempts the SDK retries are yielded as they happen (URL and cause), not waited out in silence.
      const deadline = new ModelDeadline({ firstByteMs: p.firstByteTimeoutMs, idleMs: p.idleTimeoutMs }, signal);
      const stream: AsyncIterable<ChatCompletionChunk> & { controller: AbortController } = yield* withRetryEvents(
        deadline.signal,
        () => openStream((s) => client.chat.completions.create(body, { signal: s }), deadline, signal, ctx, normalize),
      );
      yield* pumpStream(stream, new ChunkAssembler(), ctx, signal, normalize, deadline);
    },
  };
}

/** Turns streamed chunks into ModelEvents, assembling tool calls from their indexed fragments. */
export class ChunkAssembler {
  private calls = new Map<number, { id: string; name: string; args: string }>();
  private finishReason: string | null = null;
  private pending: ModelEvent[] = [];

  *push(chunk: ChatCompletionChunk): Generator<ModelEvent> {
    if (chunk.usage) {
      const cached = chunk.usage.prompt_tokens_details?.cached_tokens ?? 0;
      yield {
        type: 'usage',
        inputTokens: chunk.usage.prompt_tokens ?? 0,
        outputTokens: chunk.usage.completion_tokens ?? 0,
        ...(cached > 0 ? { cachedInputTokens: cached } : {}),
      };
    }
    const choice = chunk.choices?.[0];
    if (!choice) return;
    const delta = (choice.delta ?? {}) as ChatCompletionChunk.Choice.Delta & {
      reasoning_content?: unknown;
      reasoning?: unknown;
    };
    // DeepSeek and vLLM send `reasoning_content`; OpenRouter and Ollama send `reasoning`.
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (typeof reasoning === 'string' && reasoning) yield { type: 'reasoning', delta: reasoning };
    if (delta.content) yield { type: 'text', delta: delta.content };
    (delta.tool_calls ?? []).forEach((tc, pos) => {
      const index = tc.index ?? pos;
      let call = this.calls.get(index);
      if (!call) {
        call = {
          id: tc.id || `call_${index}_${Math.random().toString(36).slice(2, 10)}`,
          name: tc.function?.name ?? '',
          args: '',
        };
        this.calls.set(index, call);
        this.pending.push({ type: 'tool_call_start', index, id: call.id, name: call.name });
      } else if (tc.function?.name && !call.name) {
        call.name = tc.function.name;
      }
      const frag = tc.function?.arguments;
      if (frag) {
        call.args += frag;
        this.pending.push({ type: 'tool_call_delta', index, argumentsDelta: frag });
      }
    });
    yield* this.pending.splice(0);
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
  }

  /** The closing events, or null when the stream ended without a finish reason. */
  finish(): ModelEvent[] | null {
    const finish = this.finishReason;
    if (finish === null) return null;
    const out: ModelEvent[] = [];
    for (const [index, c] of [...this.calls.entries()].sort((a, b) => a[0] - b[0])) {
      out.push({ type: 'tool_call_end', index, id: c.id, name: c.name, arguments: c.args });
    }
    const reason =
      this.calls.size > 0 && finish !== 'length'
        ? 'tool_use'
        : finish === 'length'
          ? 'max_tokens'
          : finish === 'content_filter'
            ? 'refusal'
            : 'end_turn';
    out.push({ type: 'stop', reason });
    return out;
  }
}

/** The conversation as Chat Completions messages: assistant tool_calls, then one `tool` message per result. */
export function toOpenAIMessages(system: string | undefined, messages: ChatMessage[]): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = system ? [{ role: 'system', content: system }] : [];
  for (const m of messages) {
    if (m.role === 'user')
      out.push({
        role: 'user',
        content: m.images?.length
          ? [
              { type: 'text', text: m.content },
              ...m.images.map((i) => ({
                type: 'image_url' as const,
                image_url: { url: `data:${i.mimeType};base64,${i.data}` },
              })),
            ]
          : m.content,
      });
    else if (m.role === 'tool')
      out.push({ role: 'tool', tool_call_id: m.toolCallId, content: m.isError ? `Error: ${m.content}` : m.content });
    else if (m.toolCalls?.length) {
      out.push({
        role: 'assistant',
        content: m.content || null,
        tool_calls: m.toolCalls.map((c) => ({
          id: c.id,
          type: 'function' as const,
          function: { name: c.name, arguments: c.arguments.trim() ? c.arguments : '{}' },
        })),
      });
    } else {
      // Reasoning is not sent back: compatible servers (DeepSeek) reject reasoning_content in requests.
      out.push({ role: 'assistant', content: m.content });
    }
  }
  return out;
}

function toOpenAITool(t: ToolSpec): ChatCompletionTool {
  return { type: 'function', function: { name: t.name, description: t.description, parameters: t.inputSchema } };
}

function normalize(e: unknown, streaming: boolean): FailureInfo {
  if (e instanceof APIUserAbortError) return { kind: 'interrupted', message: 'aborted' };
  if (e instanceof APIConnectionTimeoutError) return { kind: 'timeout' };
  if (e instanceof APIConnectionError) return { kind: 'connection', message: causeText(e) };
  if (e instanceof APIError) {
    const body = (e.error ?? {}) as { message?: unknown; type?: unknown };
    const providerMessage = typeof body.message === 'string' ? body.message : e.message;
    if (e.status === undefined)
      return {
        kind: 'stream_error',
        providerMessage,
        ...(typeof body.type === 'string' ? { providerType: body.type } : {}),
      };
    // The SDK types status and headers loosely (its generics default to any).
    const status = e.status as number;
    const wait = status === 429 ? retryAfterMs(e.headers as Headers | undefined) : undefined;
    return {
      kind: 'status',
      status,
      providerMessage,
      ...(e.type ? { providerType: e.type } : {}),
      ...(e.code ? { providerCode: e.code } : {}),
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    };
  }
  const err = e as Error | undefined;
  const msg = [err?.message, (err?.cause as Error | undefined)?.message].filter(Boolean).join(': ') || String(e);
  return streaming ? { kind: 'interrupted', message: msg } : { kind: 'connection', message: msg };
}
