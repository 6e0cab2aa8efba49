import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '@shadowbox/protocol';
import { startModelServer, type ModelServer } from '../demo/model-server/index.js';
import type { ModelClient, ModelEvent, ModelRequest } from './types.js';
import { isShadowboxError, ShadowboxError } from '../errors.js';
import { silentLogger } from '../state/index.js';
import { createModelFactory } from './index.js';

const formats = ['openai', 'anthropic'] as const;

function envFor(server: ModelServer, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    OPENAI_API_KEY: 'sk-test',
    OPENAI_BASE_URL: `${server.url}/v1`,
    ANTHROPIC_API_KEY: 'ak-test',
    ANTHROPIC_BASE_URL: server.url,
    SHADOWBOX_MODEL_MAX_RETRIES: '2',
    ...extra,
  };
}

const simple: ModelRequest = { system: 'be brief', messages: [{ role: 'user', content: 'hi' }], tools: [] };
const tools: ModelRequest['tools'] = [
  {
    name: 'read_file',
    description: 'Read a file',
    inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
  },
];

async function collect(
  model: ModelClient,
  req: ModelRequest = simple,
  signal = new AbortController().signal,
): Promise<ModelEvent[]> {
  const out: ModelEvent[] = [];
  for await (const ev of model.stream(req, signal)) out.push(ev);
  return out;
}

/** Runs the stream and returns the events seen before it threw, plus the error. */
async function collectError(
  model: ModelClient,
  req: ModelRequest = simple,
  signal?: AbortSignal,
): Promise<{ events: ModelEvent[]; error: ShadowboxError }> {
  const events: ModelEvent[] = [];
  try {
    for await (const ev of model.stream(req, signal ?? new AbortController().signal)) events.push(ev);
  } catch (e) {
    expect(e).toBeInstanceOf(ShadowboxError);
    return { events, error: e as ShadowboxError };
  }
  throw new Error('expected the stream to fail');
}

const texts = (evs: ModelEvent[], type: 'text' | 'reasoning' = 'text') =>
  evs.flatMap((e) => (e.type === type ? [e.delta] : []));

describe.each(formats)('%s provider against the scripted model server', (format) => {
  let server: ModelServer;
  const model = (extra: Record<string, string> = {}) =>
    createModelFactory({ env: envFor(server, extra), logger: silentLogger }).create(`${format}/test-model`);

  beforeEach(async () => {
    server = await startModelServer();
  });
  afterEach(async () => {
    await server.close();
  });

  it('streams text chunks in order, with usage and end_turn, authenticating with the key', async () => {
    server.push({ text: ['Hel', 'lo ', 'world'], usage: { input: 12, output: 3 } });
    const evs = await collect(model());
    expect(texts(evs)).toEqual(['Hel', 'lo ', 'world']);
    expect(evs.filter((e) => e.type === 'usage')).toEqual([{ type: 'usage', inputTokens: 12, outputTokens: 3 }]);
    expect(evs.at(-1)).toEqual({ type: 'stop', reason: 'end_turn' });
    const req = server.requests[0];
    expect(req.format).toBe(format);
    if (format === 'openai') expect(req.headers.authorization).toBe('Bearer sk-test');
    else expect(req.headers['x-api-key']).toBe('ak-test');
    expect((req.body as { model: string; stream: boolean }).model).toBe('test-model');
    expect((req.body as { stream: boolean }).stream).toBe(true);
  });

  it('streams reasoning before text', async () => {
    server.push({ reasoning: ['Think', 'ing...'], text: ['Answer'] });
    const evs = await collect(model());
    expect(texts(evs, 'reasoning')).toEqual(['Think', 'ing...']);
    expect(texts(evs)).toEqual(['Answer']);
    expect(evs.findIndex((e) => e.type === 'reasoning')).toBeLessThan(evs.findIndex((e) => e.type === 'text'));
  });

  it('assembles one tool call from argument fragments split mid-token', async () => {
    server.push({
      text: ['Reading.'],
      toolCalls: [{ id: 'call_a', name: 'read_file', arguments: { path: 'src/some/long/file-name.ts' } }],
    });
    const evs = await collect(model(), { ...simple, tools });
    const deltas = evs.filter((e) => e.type === 'tool_call_delta');
    expect(deltas.length).toBeGreaterThanOrEqual(3);
    expect(evs.find((e) => e.type === 'tool_call_start')).toEqual({
      type: 'tool_call_start',
      index: 0,
      id: 'call_a',
      name: 'read_file',
    });
    const end = evs.find((e) => e.type === 'tool_call_end');
    expect(end).toEqual({
      type: 'tool_call_end',
      index: 0,
      id: 'call_a',
      name: 'read_file',
      arguments: '{"path":"src/some/long/file-name.ts"}',
    });
    expect(deltas.map((d) => (d.type === 'tool_call_delta' ? d.argumentsDelta : '')).join('')).toBe(
      '{"path":"src/some/long/file-name.ts"}',
    );
    expect(evs.at(-1)).toEqual({ type: 'stop', reason: 'tool_use' });
    const body = server.requests[0].body as { tools: unknown[] };
    if (format === 'openai')
      expect(body.tools).toEqual([
        {
          type: 'function',
          function: { name: 'read_file', description: 'Read a file', parameters: tools[0].inputSchema },
        },
      ]);
    else
      expect(body.tools).toEqual([
        { name: 'read_file', description: 'Read a file', input_schema: tools[0].inputSchema },
      ]);
  });

  it('assembles parallel tool calls with their own indexes and ids', async () => {
    server.push({
      toolCalls: [
        { name: 'read_file', arguments: { path: 'a.ts' } },
        { name: 'grep', arguments: '{"pattern":"x y"}' },
      ],
    });
    const evs = await collect(model(), { ...simple, tools });
    const ends = evs.filter((e) => e.type === 'tool_call_end');
    expect(ends.map((e) => (e.type === 'tool_call_end' ? [e.index, e.name, e.arguments] : []))).toEqual([
      [0, 'read_file', '{"path":"a.ts"}'],
      [1, 'grep', '{"pattern":"x y"}'],
    ]);
    const ids = ends.map((e) => (e.type === 'tool_call_end' ? e.id : ''));
    expect(new Set(ids).size).toBe(2);
    expect(ids.every((id) => id.length > 0)).toBe(true);
  });

  it('maps max_tokens and refusal stop reasons', async () => {
    server.push({ text: ['cut'], stopReason: 'max_tokens' }, { text: ['no'], stopReason: 'refusal' });
    expect((await collect(model())).at(-1)).toEqual({ type: 'stop', reason: 'max_tokens' });
    expect((await collect(model())).at(-1)).toEqual({ type: 'stop', reason: 'refusal' });
  });

  it('retries a 429 after its Retry-After, then streams', async () => {
    // 0.9 s is longer than the SDK's own first backoff (≤ 0.5 s), so the wait proves the header was honoured.
    server.push({ error: { status: 429, retryAfter: 0.9 } }, { text: ['ok'] });
    const evs = await collect(model());
    expect(texts(evs)).toEqual(['ok']);
    expect(server.requests).toHaveLength(2);
    // A lower bound only (a wait is never shorter than asked, however loaded the machine): the retry
    // came after the server's Retry-After, not after the SDK's own backoff.
    expect(server.requests[1].receivedAt - server.requests[0].receivedAt).toBeGreaterThanOrEqual(880);
  });

  it('fails at once as rate_limited when Retry-After is longer than the cap', async () => {
    server.push({ error: { status: 429, retryAfter: 120 } }, { text: ['not reached'] });
    const { error } = await collectError(model());
    // Not waited for: one request, no retry (a 120 s wait would exceed the test's timeout).
    expect(server.requests).toHaveLength(1);
    expect(isShadowboxError(error, ErrorCodes.ProviderUnavailable, 'rate_limited')).toBe(true);
    expect(error.data.retryAfterMs).toBe(120_000);
    expect(server.pending()).toBe(1);
  });

  it('gives a typed server_error after the bounded retries are exhausted', async () => {
    server.push({ error: { status: 500 } }, { error: { status: 503 } }, { text: ['not reached'] });
    const { error } = await collectError(model({ SHADOWBOX_MODEL_MAX_RETRIES: '1' }));
    expect(error.code).toBe(ErrorCodes.ProviderUnavailable);
    expect(error.reason).toBe('server_error');
    expect(error.data.status).toBe(503);
    expect(error.cause).toBeDefined();
    expect(server.requests).toHaveLength(2);
    expect(server.pending()).toBe(1);
  });

  it('does not retry a 401: a typed auth error naming the key variable', async () => {
    server.push({ error: { status: 401 } }, { text: ['not reached'] });
    const { error } = await collectError(model());
    expect(isShadowboxError(error, ErrorCodes.ProviderAuth, 'auth_failed')).toBe(true);
    expect(error.message).toContain(format === 'openai' ? 'OPENAI_API_KEY' : 'ANTHROPIC_API_KEY');
    expect(server.requests).toHaveLength(1);
  });

  it('maps 404 to model_not_found and a context-length 400 to context_too_long', async () => {
    const tooLong =
      format === 'openai'
        ? {
            error: {
              message: "This model's maximum context length is 128000 tokens.",
              type: 'invalid_request_error',
              param: 'messages',
              code: 'context_length_exceeded',
            },
          }
        : {
            type: 'error',
            error: { type: 'invalid_request_error', message: 'prompt is too long: 210000 tokens > 200000 maximum' },
          };
    server.push({ error: { status: 404 } }, { error: { status: 400, body: tooLong } }, { error: { status: 400 } });
    expect(isShadowboxError((await collectError(model())).error, ErrorCodes.ModelNotFound, 'model_not_found')).toBe(
      true,
    );
    expect(
      isShadowboxError((await collectError(model())).error, ErrorCodes.ProviderRequestInvalid, 'context_too_long'),
    ).toBe(true);
    expect(
      isShadowboxError((await collectError(model())).error, ErrorCodes.ProviderRequestInvalid, 'bad_request'),
    ).toBe(true);
    expect(server.requests).toHaveLength(3);
  });

  it('retries a connection reset before any response', async () => {
    server.push({ dropAfterChunks: 0 }, { text: ['after reset'] });
    expect(texts(await collect(model()))).toEqual(['after reset']);
    expect(server.requests).toHaveLength(2);
  });

  it('fails with stream_interrupted when the connection drops mid-stream, without retrying', async () => {
    server.push({ text: ['one', 'two', 'three', 'four'], dropAfterChunks: 4 }, { text: ['not reached'] });
    const { events, error } = await collectError(model());
    expect(texts(events).length).toBeGreaterThan(0);
    expect(isShadowboxError(error, ErrorCodes.ProviderUnavailable, 'stream_interrupted')).toBe(true);
    expect(error.data.emitted).toBe(true);
    expect(server.requests).toHaveLength(1);
    expect(server.pending()).toBe(1);
  });

  it('ends a hanging stream promptly when the signal aborts, closing the connection', async () => {
    server.push({ text: ['first'], hang: true });
    const ac = new AbortController();
    const events: ModelEvent[] = [];
    let caught: unknown;
    // The stream never ends by itself: getting past the loop at all means the abort ended it.
    try {
      for await (const ev of model().stream(simple, ac.signal)) {
        events.push(ev);
        if (ev.type === 'text') ac.abort();
      }
    } catch (e) {
      caught = e;
    }
    expect(isShadowboxError(caught, ErrorCodes.RequestCancelled, 'cancelled')).toBe(true);
    await expect.poll(() => server.requests[0].clientClosedAt).toBeDefined();
  });

  it('ends promptly when aborted while waiting to retry', async () => {
    server.push({ error: { status: 429, retryAfter: 30 } }, { text: ['not reached'] });
    const ac = new AbortController();
    const running = collectError(model(), simple, ac.signal);
    // Abort once the 429 was answered (the SDK is then sleeping 30 s before its retry).
    await expect.poll(() => server.requests.length).toBe(1);
    ac.abort();
    const { error } = await running;
    expect(error.code).toBe(ErrorCodes.RequestCancelled);
    expect(server.requests).toHaveLength(1); // ended during the wait, not after it
  });
});
