import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from '@anthropic-ai/sdk';
import type {
  ContentBlockParam,
  MessageCreateParamsStreaming,
  MessageParam,
  RawMessageStreamEvent,
  Tool,
} from '@anthropic-ai/sdk/resources/messages/messages';
import type { ChatMessage, ModelClient, ModelEvent, ModelRequest, ToolSpec } from './types.js';
import { anthropicMaxTokens, contextWindowFor, type ProviderConfig } from './config.js';
import { causeText, observeAttempts, withRetryEvents } from './attempts.js';
import { ModelDeadline } from './deadline.js';
import { capRetryAfter, openStream, pumpStream, retryAfterMs, sdkLogger, type FailureInfo } from './errors.js';
import type { ClientDeps } from './openai.js';

/** Thinking signatures by thinking text, so a tool-use round trip can send the signed block back. */
type Signatures = Map<string, string>;
const MAX_SIGNATURES = 256;

/** A ModelClient over Anthropic Messages streaming. */
export function createAnthropicModel(p: ProviderConfig, model: string, deps: ClientDeps): ModelClient {
  const client = new Anthropic({
    apiKey: p.apiKey ?? null,
    authToken: null,
    baseURL: p.baseUrl,
    maxRetries: p.maxRetries,
    fetch: observeAttempts(capRetryAfter(deps.fetch, p.maxRetryAfterMs), p.maxRetries),
    defaultHeaders: p.headers,
    logger: sdkLogger(deps.logger, p.name),
    logLevel: 'info',
  });
  const signatures: Signatures = new Map();
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
      const thinking = p.thinkingBudget !== undefined && canThink(req.messages, signatures);
      const maxTokens = req.maxTokens ?? p.maxTokens ?? anthropicMaxTokens(model) + (thinking ? p.thinkingBudget! : 0);
      const body: MessageCreateParamsStreaming = {
        model,
        max_tokens: maxTokens,
        messages: toAnthropicMessages(req.messages, thinking ? signatures : undefined),
        stream: true,
        ...(req.system ? { system: req.system } : {}),
        ...(req.tools.length ? { tools: req.tools.map(toAnthropicTool) } : {}),
        ...(thinking ? { thinking: { type: 'enabled', budget_tokens: p.thinkingBudget! } } : {}),
      };
      // Failed attempts the SDK retries are yielded as they happen (URL and cause), not waited out in silence.
      const deadline = new ModelDeadline({ firstByteMs: p.firstByteTimeoutMs, idleMs: p.idleTimeoutMs }, signal);
      const stream: AsyncIterable<RawMessageStreamEvent> & { controller: AbortController } = yield* withRetryEvents(
        deadline.signal,
        () => openStream((s) => client.messages.create(body, { signal: s }), deadline, signal, ctx, normalize),
      );
      yield* pumpStream(stream, new EventAssembler(signatures), ctx, signal, normalize, deadline);
    },
  };
}

type Block =
  | { kind: 'tool'; index: number; id: string; name: string; args: string; startInput: unknown }
  | { kind: 'thinking'; text: string; signature: string }
  | { kind: 'other' };

/** Turns Messages stream events into ModelEvents; tool-call indexes count tool_use blocks only. */
export class EventAssembler {
  private blocks = new Map<number, Block>();
  private tools = 0;
  private input = 0;
  private output = 0;
  private cacheRead = 0;
  private cacheWrite = 0;
  private stopReason: string | null = null;
  private stopped = false;

  constructor(private signatures: Signatures) {}

  *push(ev: RawMessageStreamEvent): Generator<ModelEvent> {
    switch (ev.type) {
      case 'message_start': {
        const u = ev.message.usage;
        this.cacheRead = u.cache_read_input_tokens ?? 0;
        this.cacheWrite = u.cache_creation_input_tokens ?? 0;
        this.input = (u.input_tokens ?? 0) + this.cacheWrite + this.cacheRead;
        this.output = u.output_tokens ?? 0;
        break;
      }
      case 'content_block_start': {
        const b = ev.content_block;
        if (b.type === 'tool_use') {
          const index = this.tools++;
          this.blocks.set(ev.index, { kind: 'tool', index, id: b.id, name: b.name, args: '', startInput: b.input });
          yield { type: 'tool_call_start', index, id: b.id, name: b.name };
        } else if (b.type === 'thinking') {
          this.blocks.set(ev.index, { kind: 'thinking', text: b.thinking, signature: b.signature });
          if (b.thinking) yield { type: 'reasoning', delta: b.thinking };
        } else {
          this.blocks.set(ev.index, { kind: 'other' });
          if (b.type === 'text' && b.text) yield { type: 'text', delta: b.text };
        }
        break;
      }
      case 'content_block_delta': {
        const b = this.blocks.get(ev.index);
        const d = ev.delta;
        if (d.type === 'text_delta') yield { type: 'text', delta: d.text };
        else if (d.type === 'thinking_delta') {
          if (b?.kind === 'thinking') b.text += d.thinking;
          yield { type: 'reasoning', delta: d.thinking };
        } else if (d.type === 'signature_delta' && b?.kind === 'thinking') b.signature += d.signature;
        else if (d.type === 'input_json_delta' && b?.kind === 'tool' && d.partial_json) {
          b.args += d.partial_json;
          yield { type: 'tool_call_delta', index: b.index, argumentsDelta: d.partial_json };
        }
        break;
      }
      case 'content_block_stop': {
        const b = this.blocks.get(ev.index);
        if (b?.kind === 'tool') {
          // A server that puts the whole input in content_block_start sends no deltas.
          const args = b.args || (isNonEmptyObject(b.startInput) ? JSON.stringify(b.startInput) : '');
          yield { type: 'tool_call_end', index: b.index, id: b.id, name: b.name, arguments: args };
        } else if (b?.kind === 'thinking' && b.text && b.signature) {
          if (this.signatures.size >= MAX_SIGNATURES) this.signatures.delete(this.signatures.keys().next().value!);
          this.signatures.set(b.text, b.signature);
        }
        break;
      }
      case 'message_delta':
        this.stopReason = ev.delta.stop_reason ?? this.stopReason;
        if (ev.usage.output_tokens != null) this.output = ev.usage.output_tokens;
        if (ev.usage.input_tokens != null) {
          this.cacheRead = ev.usage.cache_read_input_tokens ?? this.cacheRead;
          this.cacheWrite = ev.usage.cache_creation_input_tokens ?? this.cacheWrite;
          this.input = ev.usage.input_tokens + this.cacheWrite + this.cacheRead;
        }
        break;
      case 'message_stop':
        this.stopped = true;
        break;
    }
  }

  /** Usage and the stop reason, or null when message_stop never came. */
  finish(): ModelEvent[] | null {
    if (!this.stopped) return null;
    const r = this.stopReason;
    const reason =
      r === 'tool_use'
        ? 'tool_use'
        : r === 'max_tokens' || r === 'model_context_window_exceeded'
          ? 'max_tokens'
          : r === 'refusal'
            ? 'refusal'
            : 'end_turn';
    return [
      {
        type: 'usage',
        inputTokens: this.input,
        outputTokens: this.output,
        ...(this.cacheRead > 0 ? { cachedInputTokens: this.cacheRead } : {}),
        ...(this.cacheWrite > 0 ? { cacheWriteTokens: this.cacheWrite } : {}),
      },
      { type: 'stop', reason: reason === 'end_turn' && this.tools > 0 ? 'tool_use' : reason },
    ];
  }
}

/**
 * Extended thinking needs the signed thinking block of an assistant message whose tool results are
 * being sent back; when that signature is unknown (e.g. after a daemon restart) this request goes without thinking.
 */
function canThink(messages: ChatMessage[], signatures: Signatures): boolean {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m.role === 'tool') continue;
    if (m.role === 'user') return true;
    return !m.toolCalls?.length || (m.reasoning !== undefined && signatures.has(m.reasoning));
  }
  return true;
}

/** The conversation as Messages: tool_use blocks on the assistant side, tool_result blocks merged into one user turn. */
export function toAnthropicMessages(messages: ChatMessage[], signatures?: Signatures): MessageParam[] {
  const out: MessageParam[] = [];
  const userBlocks = (): ContentBlockParam[] => {
    const last = out[out.length - 1];
    if (last?.role === 'user' && Array.isArray(last.content)) return last.content;
    const blocks: ContentBlockParam[] = [];
    out.push({ role: 'user', content: blocks });
    return blocks;
  };
  for (const m of messages) {
    if (m.role === 'user') {
      const blocks = userBlocks();
      for (const i of m.images ?? [])
        blocks.push({ type: 'image', source: { type: 'base64', media_type: i.mimeType, data: i.data } });
      blocks.push({ type: 'text', text: m.content || '(empty message)' });
    } else if (m.role === 'tool')
      userBlocks().push({
        type: 'tool_result',
        tool_use_id: m.toolCallId,
        content: m.content || '(no output)',
        ...(m.isError ? { is_error: true } : {}),
      });
    else {
      const blocks: ContentBlockParam[] = [];
      const sig = m.reasoning !== undefined ? signatures?.get(m.reasoning) : undefined;
      if (m.reasoning && sig) blocks.push({ type: 'thinking', thinking: m.reasoning, signature: sig });
      if (m.content) blocks.push({ type: 'text', text: m.content });
      for (const c of m.toolCalls ?? [])
        blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: parseInput(c.arguments) });
      // Anthropic rejects empty assistant turns (e.g. a call cancelled before any text).
      if (blocks.length) out.push({ role: 'assistant', content: blocks });
    }
  }
  return out;
}

function parseInput(args: string): Record<string, unknown> {
  try {
    const v: unknown = args.trim() ? JSON.parse(args) : {};
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : { value: v };
  } catch {
    // The loop already told the model these arguments were not JSON; keep them visible to it.
    return { invalid_json: args };
  }
}

function isNonEmptyObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && Object.keys(v).length > 0;
}

function toAnthropicTool(t: ToolSpec): Tool {
  return {
    name: t.name,
    description: t.description,
    input_schema: { type: 'object', ...t.inputSchema },
  };
}

function normalize(e: unknown, streaming: boolean): FailureInfo {
  if (e instanceof APIUserAbortError) return { kind: 'interrupted', message: 'aborted' };
  if (e instanceof APIConnectionTimeoutError) return { kind: 'timeout' };
  if (e instanceof APIConnectionError) return { kind: 'connection', message: causeText(e) };
  if (e instanceof APIError) {
    const body = (e.error ?? {}) as { error?: { message?: unknown } };
    const providerMessage = typeof body.error?.message === 'string' ? body.error.message : e.message;
    if (e.status === undefined)
      return { kind: 'stream_error', providerMessage, ...(e.type ? { providerType: e.type } : {}) };
    // The SDK types status and headers loosely (its generics default to any).
    const status = e.status as number;
    const wait = status === 429 ? retryAfterMs(e.headers as Headers | undefined) : undefined;
    return {
      kind: 'status',
      status,
      providerMessage,
      ...(e.type ? { providerType: e.type } : {}),
      ...(wait !== undefined ? { retryAfterMs: wait } : {}),
    };
  }
  const err = e as Error | undefined;
  const msg = [err?.message, (err?.cause as Error | undefined)?.message].filter(Boolean).join(': ') || String(e);
  return streaming ? { kind: 'interrupted', message: msg } : { kind: 'connection', message: msg };
}
