// The two streaming wire formats, event by event, as the real APIs send them.
import type { Reply, RequestInfo, ScriptedToolCall } from './types.js';

/** SSE events of one reply: `content` (text, reasoning, tool calls) and `tail` (stop reason, usage, end). */
export interface Sse {
  content: string[];
  tail: string[];
}

type Ids = { n: number };

/** Splits a string into up to three non-empty pieces, so JSON arguments arrive cut mid-token. */
export function splitFragments(s: string): string[] {
  if (s.length < 3) return s ? [s] : [];
  const a = Math.floor(s.length / 3);
  const b = Math.floor((2 * s.length) / 3);
  return [s.slice(0, a), s.slice(a, b), s.slice(b)];
}

function argsString(c: ScriptedToolCall): string {
  return typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments);
}

function outputChars(r: Reply): number {
  const t = [...(r.text ?? []), ...(r.reasoning ?? [])].join('').length;
  return t + (r.toolCalls ?? []).reduce((n, c) => n + argsString(c).length + c.name.length, 0);
}

function usageOf(r: Reply, info: RequestInfo): NonNullable<Reply['usage']> {
  return (
    r.usage ?? {
      input: Math.max(1, Math.ceil(info.requestBytes / 4)),
      output: Math.max(1, Math.ceil(outputChars(r) / 4)),
    }
  );
}

function stopOf(r: Reply): NonNullable<Reply['stopReason']> {
  return r.stopReason ?? (r.toolCalls?.length ? 'tool_use' : 'end_turn');
}

/** OpenAI Chat Completions chunks: `data: {chat.completion.chunk}` lines, then `data: [DONE]`. */
export function openaiEvents(r: Reply, info: RequestInfo, ids: Ids): Sse {
  const id = `chatcmpl-scripted${++ids.n}`;
  const created = Math.floor(Date.now() / 1000);
  const data = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
    data({
      id,
      object: 'chat.completion.chunk',
      created,
      model: info.model,
      system_fingerprint: 'fp_scripted',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      ...(info.includeUsage ? { usage: null } : {}),
    });
  const content = [chunk({ role: 'assistant', content: '', refusal: null })];
  for (const t of r.reasoning ?? []) content.push(chunk({ content: null, reasoning_content: t }));
  for (const t of r.text ?? []) content.push(chunk({ content: t }));
  (r.toolCalls ?? []).forEach((c, index) => {
    const callId = c.id ?? `call_scripted${++ids.n}`;
    content.push(
      chunk({ tool_calls: [{ index, id: callId, type: 'function', function: { name: c.name, arguments: '' } }] }),
    );
    for (const f of splitFragments(argsString(c)))
      content.push(chunk({ tool_calls: [{ index, function: { arguments: f } }] }));
  });
  const finish = { end_turn: 'stop', tool_use: 'tool_calls', max_tokens: 'length', refusal: 'content_filter' }[
    stopOf(r)
  ];
  const tail = [chunk({}, finish)];
  if (info.includeUsage) {
    const u = usageOf(r, info);
    tail.push(
      data({
        id,
        object: 'chat.completion.chunk',
        created,
        model: info.model,
        system_fingerprint: 'fp_scripted',
        choices: [],
        usage: {
          prompt_tokens: u.input,
          completion_tokens: u.output,
          total_tokens: u.input + u.output,
          ...(u.cached !== undefined ? { prompt_tokens_details: { cached_tokens: u.cached } } : {}),
        },
      }),
    );
  }
  tail.push('data: [DONE]\n\n');
  return { content, tail };
}

/** Anthropic Messages events: message_start, content blocks (start/delta/stop), message_delta, message_stop. */
export function anthropicEvents(r: Reply, info: RequestInfo, ids: Ids): Sse {
  const ev = (type: string, o: Record<string, unknown>) =>
    `event: ${type}\ndata: ${JSON.stringify({ type, ...o })}\n\n`;
  const u = usageOf(r, info);
  const content = [
    ev('message_start', {
      message: {
        id: `msg_scripted${++ids.n}`,
        type: 'message',
        role: 'assistant',
        model: info.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // Anthropic counts cache reads and writes apart from input_tokens.
        usage: {
          input_tokens: u.input - (u.cached ?? 0) - (u.cacheWrite ?? 0),
          cache_creation_input_tokens: u.cacheWrite ?? 0,
          cache_read_input_tokens: u.cached ?? 0,
          output_tokens: 1,
        },
      },
    }),
    ev('ping', {}),
  ];
  let index = 0;
  if (r.reasoning?.length) {
    content.push(
      ev('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } }),
    );
    for (const t of r.reasoning)
      content.push(ev('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: t } }));
    content.push(
      ev('content_block_delta', {
        index,
        delta: { type: 'signature_delta', signature: `scripted-signature-${ids.n}` },
      }),
    );
    content.push(ev('content_block_stop', { index }));
    index++;
  }
  if (r.text?.length) {
    content.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
    for (const t of r.text) content.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: t } }));
    content.push(ev('content_block_stop', { index }));
    index++;
  }
  for (const c of r.toolCalls ?? []) {
    const id = c.id ?? `toolu_scripted${++ids.n}`;
    content.push(
      ev('content_block_start', { index, content_block: { type: 'tool_use', id, name: c.name, input: {} } }),
    );
    content.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } }));
    for (const f of splitFragments(argsString(c)))
      content.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: f } }));
    content.push(ev('content_block_stop', { index }));
    index++;
  }
  const tail = [
    ev('message_delta', { delta: { stop_reason: stopOf(r), stop_sequence: null }, usage: { output_tokens: u.output } }),
    ev('message_stop', {}),
  ];
  return { content, tail };
}
