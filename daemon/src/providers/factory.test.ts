import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '@shadowbox/protocol';
import { startModelServer, type ModelServer } from '../demo/model-server/index.js';
import { isShadowboxError } from '../errors.js';
import { silentLogger } from '../state/index.js';
import { createModelFactory, fingerprintOf, type ModelEvent } from './index.js';

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

  it('says which variable to set when the key is missing, and that the running daemon keeps its environment', () => {
    const e = thrown(() => factory({}).create('anthropic/claude-sonnet-4-5'));
    expect(isShadowboxError(e, ErrorCodes.ConfigMissing, 'missing_api_key')).toBe(true);
    const restart = `The daemon (pid ${process.pid}) reads it from the environment of the command that started it: after exporting it, run \`shadowbox stop\` and the next shadowbox command starts a daemon with your environment.`;
    expect((e as Error).message).toBe(`Set ANTHROPIC_API_KEY to use anthropic/claude-sonnet-4-5. ${restart}`);
    expect((e as { data: { pid: number } }).data.pid).toBe(process.pid);
    const o = thrown(() => factory({}).create('openai/gpt-4o'));
    expect((o as Error).message).toBe(
      `Set OPENAI_API_KEY to use openai/gpt-4o, or set OPENAI_BASE_URL to a local OpenAI-compatible server. ${restart}`,
    );
  });

  it('reports the settings it read from the environment: keys only as fingerprints', () => {
    const f = factory({ OPENAI_API_KEY: 'sk-secret-1', OPENAI_BASE_URL: 'http://127.0.0.1:1/v1' });
    const env = f.environment();
    expect(env.find((s) => s.name === 'OPENAI_API_KEY')).toEqual({
      name: 'OPENAI_API_KEY',
      set: true,
      secret: true,
      fingerprint: fingerprintOf('sk-secret-1'),
    });
    expect(JSON.stringify(env)).not.toContain('sk-secret-1');
    expect(env.find((s) => s.name === 'ANTHROPIC_API_KEY')).toEqual({
      name: 'ANTHROPIC_API_KEY',
      set: false,
      secret: true,
    });
    expect(env.find((s) => s.name === 'OPENAI_BASE_URL')?.value).toBe('http://127.0.0.1:1/v1');
    expect(fingerprintOf('sk-secret-1')).toMatch(/^[0-9a-f]{12}$/);
    expect(fingerprintOf('sk-secret-2')).not.toBe(fingerprintOf('sk-secret-1'));
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

  it('reports each retried attempt as it happens (URL and cause), then streams', async () => {
    const m = factory({ OPENAI_API_KEY: 'o', OPENAI_BASE_URL: `${server.url}/v1` }).create('openai/x');
    server.push(
      { error: { status: 503, body: { error: { message: 'busy' } }, retryAfter: 0.01 } },
      { error: { status: 503, body: { error: { message: 'busy' } }, retryAfter: 0.01 } },
      { text: ['up'] },
    );
    const events: ModelEvent[] = [];
    for await (const ev of m.stream(
      { messages: [{ role: 'user', content: 'hi' }], tools: [] },
      new AbortController().signal,
    ))
      events.push(ev);
    expect(events.filter((e) => e.type === 'retry')).toEqual([
      {
        type: 'retry',
        attempt: 2,
        maxAttempts: 4,
        url: `${server.url}/v1/chat/completions`,
        reason: 'overloaded',
        message: 'HTTP 503',
      },
      {
        type: 'retry',
        attempt: 3,
        maxAttempts: 4,
        url: `${server.url}/v1/chat/completions`,
        reason: 'overloaded',
        message: 'HTTP 503',
      },
    ]);
    expect(events.findIndex((e) => e.type === 'retry')).toBeLessThan(events.findIndex((e) => e.type === 'text'));
  });

  it('names the URL and the cause when the model server is down, after showing every retry', async () => {
    const closed = await import('node:net').then(
      (net) =>
        new Promise<number>((resolve) => {
          const srv = net.createServer();
          srv.listen(0, '127.0.0.1', () => {
            const port = (srv.address() as { port: number }).port;
            srv.close(() => resolve(port));
          });
        }),
    );
    const base = `http://127.0.0.1:${closed}/v1`;
    const m = factory({ OPENAI_BASE_URL: base, SHADOWBOX_MODEL_MAX_RETRIES: '1' }).create('openai/local');
    const events: ModelEvent[] = [];
    let err: unknown;
    try {
      for await (const ev of m.stream(
        { messages: [{ role: 'user', content: 'hi' }], tools: [] },
        new AbortController().signal,
      ))
        events.push(ev);
    } catch (e) {
      err = e;
    }
    expect(events).toEqual([
      {
        type: 'retry',
        attempt: 2,
        maxAttempts: 2,
        url: `${base}/chat/completions`,
        reason: 'network',
        message: expect.stringContaining('ECONNREFUSED') as string,
      },
    ]);
    expect(isShadowboxError(err, ErrorCodes.ProviderUnavailable, 'network')).toBe(true);
    expect((err as Error).message).toContain(
      `openai/local at ${base}: connect ECONNREFUSED 127.0.0.1:${closed} (2 attempts)`,
    );
  });
});
