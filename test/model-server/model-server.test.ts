// The scripted model server's raw wire output (the provider tests cover it through the real SDKs).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startModelServer, type ModelServer } from './index.js';

let server: ModelServer;
beforeEach(async () => {
  server = await startModelServer();
});
afterEach(async () => {
  await server.close();
});

const post = (path: string, body: unknown) =>
  fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const dataLines = (sse: string) =>
  sse
    .split('\n\n')
    .filter(Boolean)
    .map((e) =>
      e
        .split('\n')
        .find((l) => l.startsWith('data: '))!
        .slice(6),
    );

describe('scripted model server', () => {
  it('speaks OpenAI chunks: role first, tool_calls by index with split arguments, finish, usage, [DONE]', async () => {
    server.push({ text: ['Hi'], toolCalls: [{ id: 'call_x', name: 'f', arguments: { a: 'long value' } }] });
    const res = await post('/v1/chat/completions', {
      model: 'm',
      stream: true,
      stream_options: { include_usage: true },
      messages: [],
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const lines = dataLines(await res.text());
    expect(lines.at(-1)).toBe('[DONE]');
    const chunks = lines.slice(0, -1).map(
      (l) =>
        JSON.parse(l) as {
          object: string;
          choices: Array<{ delta: Record<string, unknown>; finish_reason: string | null }>;
          usage: unknown;
        },
    );
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const frags = chunks.flatMap(
      (c) =>
        (c.choices[0]?.delta.tool_calls as
          Array<{ index: number; id?: string; function: { arguments: string } }> | undefined) ?? [],
    );
    expect(frags[0]).toMatchObject({ index: 0, id: 'call_x', function: { name: 'f', arguments: '' } });
    expect(frags.length).toBeGreaterThanOrEqual(4);
    expect(frags.map((f) => f.function.arguments).join('')).toBe('{"a":"long value"}');
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toMatchObject({
      prompt_tokens: expect.any(Number),
      completion_tokens: expect.any(Number),
    });
  });

  it('speaks Anthropic events in order, with input_json_delta fragments', async () => {
    server.push({
      reasoning: ['hmm'],
      text: ['Hi'],
      toolCalls: [{ name: 'f', arguments: { b: 'a longer value' } }],
      usage: { input: 7, output: 3 },
    });
    const sse = await (
      await post('/v1/messages', { model: 'claude', stream: true, max_tokens: 10, messages: [] })
    ).text();
    const names = sse
      .split('\n\n')
      .filter(Boolean)
      .map((e) => e.split('\n')[0].slice('event: '.length));
    expect(names[0]).toBe('message_start');
    expect(names.slice(-2)).toEqual(['message_delta', 'message_stop']);
    expect(names.filter((e) => e === 'content_block_start')).toHaveLength(3);
    const events = dataLines(sse).map(
      (l) =>
        JSON.parse(l) as {
          type: string;
          content_block?: { type: string };
          delta?: { type: string; partial_json?: string; stop_reason?: string };
          usage?: unknown;
        },
    );
    expect(events.filter((e) => e.type === 'content_block_start').map((e) => e.content_block!.type)).toEqual([
      'thinking',
      'text',
      'tool_use',
    ]);
    const fragments = events.filter((e) => e.delta?.type === 'input_json_delta').map((e) => e.delta!.partial_json);
    expect(fragments.filter(Boolean).length).toBeGreaterThanOrEqual(3);
    expect(fragments.join('')).toBe('{"b":"a longer value"}');
    expect(events.at(-2)).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 3 } });
  });

  it('answers an empty queue with a 500 "script exhausted" that SDKs must not retry', async () => {
    const res = await post('/v1/chat/completions', { model: 'm', stream: true });
    expect(res.status).toBe(500);
    expect(res.headers.get('x-should-retry')).toBe('false');
    expect(JSON.stringify(await res.json())).toContain('script exhausted');
  });

  it('sends scripted errors with Retry-After, records requests, and lets onRequest answer instead of the queue', async () => {
    await server.close();
    server = await startModelServer({
      script: [{ error: { status: 429, retryAfter: 2 } }],
      onRequest: (r) => ((r.body as { model?: string }).model === 'special' ? { text: ['special'] } : undefined),
    });
    const special = await post('/v1/chat/completions', { model: 'special', stream: true });
    expect(await special.text()).toContain('special');
    const limited = await post('/v1/messages', { model: 'c', stream: true });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(await limited.json()).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'scripted error 429' },
    });
    expect(server.requests.map((r) => [r.format, r.path])).toEqual([
      ['openai', '/v1/chat/completions'],
      ['anthropic', '/v1/messages'],
    ]);
    expect(server.pending()).toBe(0);
  });

  it('holds the end of an answer until holdUntil settles', async () => {
    let release!: () => void;
    server.push({ text: ['held'], holdUntil: new Promise<void>((r) => (release = r)) });
    const res = await post('/v1/chat/completions', { model: 'm', stream: true });
    const reader = res.body!.getReader();
    let sse = '';
    while (!sse.includes('held')) sse += Buffer.from((await reader.read()).value!).toString();
    // The content is there and the answer goes on: nothing ends it until the release.
    expect(sse).not.toContain('finish_reason":"stop');
    release();
    for (let r = await reader.read(); !r.done; r = await reader.read()) sse += Buffer.from(r.value).toString();
    expect(sse).toContain('finish_reason":"stop');
    expect(sse.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('paces chunks by delayMs', async () => {
    server.push({ text: ['a', 'b', 'c', 'd'], delayMs: 60 });
    const t0 = Date.now();
    await (await post('/v1/chat/completions', { model: 'm', stream: true })).text();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(5 * 60 - 20);
  });
});
