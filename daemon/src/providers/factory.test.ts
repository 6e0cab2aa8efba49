import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '@shadowbox/protocol';
import { startModelServer, type ModelServer } from '../demo/model-server/index.js';
import { isShadowboxError } from '../errors.js';
import { silentLogger } from '../state/index.js';
import { createModelFactory } from './index.js';

const factory = (env: NodeJS.ProcessEnv, config?: unknown) =>
  createModelFactory({ env, logger: silentLogger, ...(config ? { config } : {}) });
const thrown = (f: () => unknown): unknown => {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
};

describe('createModelFactory', () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await startModelServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('lists the providers that have a key (or an OpenAI-compatible base URL)', () => {
    expect(factory({}).providers()).toEqual([]);
    expect(factory({ ANTHROPIC_API_KEY: 'a' }).providers()).toEqual(['anthropic']);
    expect(factory({ OPENAI_API_KEY: 'o', ANTHROPIC_API_KEY: 'a' }).providers()).toEqual(['openai', 'anthropic']);
    expect(factory({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' }).providers()).toEqual(['openai']);
  });

  it('says which variable to set when the key is missing', () => {
    const e = thrown(() => factory({}).create('anthropic/claude-sonnet-4-5'));
    expect(isShadowboxError(e, ErrorCodes.ConfigMissing, 'missing_api_key')).toBe(true);
    expect((e as Error).message).toBe('Set ANTHROPIC_API_KEY to use anthropic/claude-sonnet-4-5.');
    const o = thrown(() => factory({}).create('openai/gpt-4o'));
    expect((o as Error).message).toBe(
      'Set OPENAI_API_KEY to use openai/gpt-4o, or set OPENAI_BASE_URL to a local OpenAI-compatible server.',
    );
  });

  it('rejects an unknown provider and a spec without a model', () => {
    const e = thrown(() => factory({ OPENAI_API_KEY: 'o' }).create('mistral/large'));
    expect(isShadowboxError(e, ErrorCodes.ConfigInvalid, 'unknown_provider')).toBe(true);
    expect((e as Error).message).toContain('openai, anthropic');
    expect(
      isShadowboxError(
        thrown(() => factory({ OPENAI_API_KEY: 'o' }).create('gpt-4o')),
        ErrorCodes.ConfigInvalid,
        'invalid_model_spec',
      ),
    ).toBe(true);
    expect(
      isShadowboxError(
        thrown(() => factory({ OPENAI_API_KEY: 'o' }).create('openai/')),
        ErrorCodes.ConfigInvalid,
        'invalid_model_spec',
      ),
    ).toBe(true);
  });

  it('rejects a bad env number and a bad providers section', () => {
    expect(
      isShadowboxError(
        thrown(() => factory({ SHADOWBOX_CONTEXT_WINDOW: 'lots' })),
        ErrorCodes.ConfigInvalid,
        'invalid_env',
      ),
    ).toBe(true);
    expect(
      isShadowboxError(
        thrown(() => factory({}, { providers: { local: { format: 'openai' } } })),
        ErrorCodes.ConfigInvalid,
        'invalid_provider_config',
      ),
    ).toBe(true);
    expect(
      isShadowboxError(
        thrown(() => factory({}, { providers: { local: { baseUrl: 'not a url' } } })),
        ErrorCodes.ConfigInvalid,
        'invalid_provider_config',
      ),
    ).toBe(true);
  });

  it('knows context windows of common models, with the env override and a 128k default', () => {
    const f = factory({ OPENAI_API_KEY: 'o', ANTHROPIC_API_KEY: 'a' });
    expect(f.create('openai/gpt-4.1-mini').contextWindow).toBe(1_047_576);
    expect(f.create('openai/gpt-4o-mini').contextWindow).toBe(128_000);
    expect(f.create('anthropic/claude-sonnet-4-5').contextWindow).toBe(200_000);
    expect(f.create('openai/some-local-model').contextWindow).toBe(128_000);
    expect(f.create('openai/openai/o3-mini').model).toBe('openai/openai/o3-mini');
    expect(f.create('openai/openai/o3-mini').contextWindow).toBe(200_000);
    expect(
      factory({ OPENAI_API_KEY: 'o', SHADOWBOX_CONTEXT_WINDOW: '32768' }).create('openai/gpt-4o').contextWindow,
    ).toBe(32_768);
  });

  it('serves a provider declared in the config file (OpenAI-compatible, no key, extra headers)', async () => {
    const f = factory(
      {},
      {
        providers: {
          ollama: { baseUrl: `${server.url}/v1`, contextWindow: 8192, headers: { 'x-title': 'shadowbox' } },
        },
      },
    );
    expect(f.providers()).toEqual(['ollama']);
    const m = f.create('ollama/llama3.1:8b');
    expect(m.contextWindow).toBe(8192);
    server.push({ text: ['local'] });
    const texts: string[] = [];
    for await (const ev of m.stream(
      { messages: [{ role: 'user', content: 'hi' }], tools: [] },
      new AbortController().signal,
    ))
      if (ev.type === 'text') texts.push(ev.delta);
    expect(texts).toEqual(['local']);
    const rec = server.requests.at(-1)!;
    expect(rec.path).toBe('/v1/chat/completions');
    expect(rec.headers['x-title']).toBe('shadowbox');
    expect((rec.body as { model: string }).model).toBe('llama3.1:8b');
    expect(f.describe('ollama')).toMatchObject({ format: 'openai', hasKey: false, baseUrl: `${server.url}/v1` });
  });

  it('answers an unscripted request with a loud "script exhausted" error that is not retried', async () => {
    const m = factory({ OPENAI_API_KEY: 'o', OPENAI_BASE_URL: `${server.url}/v1` }).create('openai/x');
    const before = server.requests.length;
    let err: unknown;
    try {
      for await (const _ of m.stream(
        { messages: [{ role: 'user', content: 'hi' }], tools: [] },
        new AbortController().signal,
      ))
        void _;
    } catch (e) {
      err = e;
    }
    expect(isShadowboxError(err, ErrorCodes.ProviderUnavailable, 'server_error')).toBe(true);
    expect((err as Error).message).toContain('script exhausted');
    expect(server.requests.length - before).toBe(1);
  });
});
