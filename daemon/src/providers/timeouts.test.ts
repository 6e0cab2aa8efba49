// Issue 15 item 6: a model server that never answers, or stops mid-stream, ends the call typed and
// retryable after modelIdleTimeoutMs; a chunk that is not JSON is reported as malformed, not as a cut-off.
// The stalls never end, so the outcome does not depend on how long anything takes (tiny timeouts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '@shadowbox/protocol';
import { startModelServer, type ModelServer } from '../demo/model-server/index.js';
import type { ModelClient, ModelEvent, ModelRequest } from './types.js';
import { ShadowboxError } from '../errors.js';
import { silentLogger } from '../state/index.js';
import { createModelFactory } from './index.js';
import { resolveProviders } from './config.js';

const request: ModelRequest = { system: 'be brief', messages: [{ role: 'user', content: 'hi' }], tools: [] };

async function run(model: ModelClient, signal = new AbortController().signal) {
  const events: ModelEvent[] = [];
  try {
    for await (const ev of model.stream(request, signal)) events.push(ev);
  } catch (e) {
    if (!(e instanceof ShadowboxError)) throw e;
    return { events, error: e };
  }
  return { events, error: null };
}

describe.each(['openai', 'anthropic'] as const)('%s: hung and broken model streams', (format) => {
  let server: ModelServer;
  beforeEach(async () => {
    server = await startModelServer();
  });
  afterEach(async () => {
    await server.close();
  });
  const model = (idleMs: number, firstByteMs = 60_000) =>
    createModelFactory({
      env: {
        OPENAI_API_KEY: 'k',
        OPENAI_BASE_URL: `${server.url}/v1`,
        ANTHROPIC_API_KEY: 'k',
        ANTHROPIC_BASE_URL: server.url,
        SHADOWBOX_MODEL_MAX_RETRIES: '0',
        SHADOWBOX_MODEL_IDLE_TIMEOUT_MS: String(idleMs),
        SHADOWBOX_MODEL_FIRST_BYTE_TIMEOUT_MS: String(firstByteMs),
      },
      logger: silentLogger,
    }).create(`${format}/m`);

  it('a server that never sends headers ends with first_byte_timeout, retryable', async () => {
    server.push({ text: ['never'], stallBeforeHeaders: true });
    const { events, error } = await run(model(60_000, 50));
    expect(events).toEqual([]);
    expect(error).toMatchObject({
      code: ErrorCodes.ProviderUnavailable,
      data: { reason: 'first_byte_timeout', retryable: true, timeoutMs: 50 },
    });
    // The hung request was given up: the connection is closed by the client (if the request got there at all
    // before the tiny limit ran out).
    await expect.poll(() => server.requests.every((r) => r.clientClosedAt !== undefined)).toBe(true);
  });

  it('headers and then silence ends with idle_timeout', async () => {
    server.push({ text: ['a', 'b'], stallAfterChunks: 0 });
    const { error } = await run(model(50));
    expect(error).toMatchObject({
      code: ErrorCodes.ProviderUnavailable,
      data: { reason: 'idle_timeout', retryable: true },
    });
  });

  it('a stream that stops mid-answer keeps what arrived and ends with idle_timeout, not a cut-off', async () => {
    server.push({ text: ['one ', 'two ', 'three'], stallAfterChunks: 4 });
    const { events, error } = await run(model(200));
    expect(events.filter((e) => e.type === 'text').length).toBeGreaterThan(0);
    expect(error).toMatchObject({ data: { reason: 'idle_timeout', retryable: true, emitted: true } });
  });

  it('a chunk that is not JSON is malformed_stream', async () => {
    server.push({ text: ['one ', 'two ', 'three'], malformedAfterChunks: 2 });
    const { error } = await run(model(60_000));
    expect(error).toMatchObject({ code: ErrorCodes.ProviderUnavailable, data: { reason: 'malformed_stream' } });
  });

  it('a cancel during a stall is a cancel, not a timeout', async () => {
    server.push({ text: ['x'], stallBeforeHeaders: true });
    const ac = new AbortController();
    const running = run(model(60_000), ac.signal);
    await expect.poll(() => server.requests.length).toBe(1);
    ac.abort();
    expect((await running).error).toMatchObject({ code: ErrorCodes.RequestCancelled });
  });

  it('a stream slower than the limit overall but never silent that long finishes normally', async () => {
    // Every gap is far below the limit; only silence counts, not the length of the answer.
    server.push({ text: Array.from({ length: 20 }, (_, i) => `w${i} `) });
    const { events, error } = await run(model(60_000));
    expect(error).toBeNull();
    expect(events.at(-1)).toMatchObject({ type: 'stop', reason: 'end_turn' });
  });
});

describe('modelIdleTimeoutMs', () => {
  it('comes from config.json, the environment overrides it, and it defaults to 60 s', () => {
    expect(resolveProviders({}, {}).get('openai')).toMatchObject({ idleTimeoutMs: 60_000, firstByteTimeoutMs: 60_000 });
    expect(resolveProviders({}, { modelIdleTimeoutMs: 7000 }).get('openai')?.firstByteTimeoutMs).toBe(7000);
    expect(
      resolveProviders({}, { modelIdleTimeoutMs: 7000, modelFirstByteTimeoutMs: 9000 }).get('openai')
        ?.firstByteTimeoutMs,
    ).toBe(9000);
    expect(resolveProviders({}, { modelIdleTimeoutMs: 5000 }).get('anthropic')?.idleTimeoutMs).toBe(5000);
    expect(
      resolveProviders({ SHADOWBOX_MODEL_IDLE_TIMEOUT_MS: '25' }, { modelIdleTimeoutMs: 5000 }).get('openai')
        ?.idleTimeoutMs,
    ).toBe(25);
    expect(() => resolveProviders({}, { modelIdleTimeoutMs: -1 })).toThrow();
  });
});
