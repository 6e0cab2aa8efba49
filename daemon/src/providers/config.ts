import { z } from 'zod';
import { ErrorCodes, lazySchema } from '@shadowbox/protocol';
import { ShadowboxError } from '../errors.js';
import { envInt } from '../state/index.js';
import { DEFAULT_MODEL_IDLE_TIMEOUT_MS } from './deadline.js';

export type WireFormat = 'openai' | 'anthropic';

/** One provider, resolved from the environment and the optional `providers` section of the config file. */
export interface ProviderConfig {
  /** The prefix of model specs: `openai` in `openai/gpt-4o`. */
  name: string;
  /** Which wire format (and SDK) it speaks. */
  format: WireFormat;
  baseUrl: string;
  /** Absent when not set; an OpenAI-compatible server on a non-default base URL works without one. */
  apiKey?: string;
  /** The environment variable named in "set X" messages. */
  apiKeyEnv: string;
  /** Retries of 429/5xx/connection failures before the first streamed byte (SDK backoff, Retry-After honoured). */
  maxRetries: number;
  /** A Retry-After longer than this is not waited for: the call fails at once as rate_limited. */
  maxRetryAfterMs: number;
  /** Overrides the context-window table for every model of this provider. */
  contextWindow?: number;
  /** Overrides the default max output tokens. */
  maxTokens?: number;
  /** Anthropic extended thinking budget in tokens; off when absent. */
  thinkingBudget?: number;
  /** Extra HTTP headers (e.g. OpenRouter's `HTTP-Referer`). */
  headers: Record<string, string>;
  /** Silence limit between streamed events (config.json `modelIdleTimeoutMs`). */
  idleTimeoutMs: number;
  /** Wait for the answer to start, retries included (`modelFirstByteTimeoutMs`, default: the idle limit). */
  firstByteTimeoutMs: number;
}

export const DEFAULT_BASE_URLS: Record<WireFormat, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};

// The `providers` section of config.json: overrides for openai/anthropic and extra named providers.
const providerEntry = lazySchema(() =>
  z.strictObject({
    format: z.enum(['openai', 'anthropic']).optional(),
    baseUrl: z.url().optional(),
    apiKeyEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
      .optional(),
    contextWindow: z.number().int().positive().optional(),
    maxTokens: z.number().int().positive().optional(),
    thinkingBudget: z.number().int().min(1024).optional(),
    maxRetries: z.number().int().min(0).max(10).optional(),
    headers: z.record(z.string(), z.string()).optional(),
  }),
);
// The `models` section: per model spec, whether it takes images, its prices (USD per million tokens) and window.
const modelEntry = lazySchema(() =>
  z.strictObject({
    images: z.boolean().optional(),
    contextWindow: z.number().int().positive().optional(),
    prices: z
      .strictObject({
        input: z.number().nonnegative(),
        output: z.number().nonnegative(),
        cachedInput: z.number().nonnegative().optional(),
        cacheWrite: z.number().nonnegative().optional(),
      })
      .optional(),
  }),
);
export type ModelSettings = z.infer<ReturnType<typeof modelEntry>>;

export const providersFileSchema = lazySchema(() =>
  z
    .object({
      providers: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/), providerEntry()).optional(),
      models: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*\/.+$/), modelEntry()).optional(),
      modelIdleTimeoutMs: z.number().int().positive().optional(),
      modelFirstByteTimeoutMs: z.number().int().positive().optional(),
    })
    .loose(),
);
export type ProvidersFileConfig = z.infer<ReturnType<typeof providersFileSchema>>;

const positiveInt = envInt;

/** Every provider shadowbox knows of: the built-in openai and anthropic plus the config file's extra ones. */
export function resolveProviders(env: NodeJS.ProcessEnv, file: unknown = {}): Map<string, ProviderConfig> {
  const parsed = providersFileSchema().safeParse(file ?? {});
  if (!parsed.success) {
    throw new ShadowboxError(
      ErrorCodes.ConfigInvalid,
      'invalid_provider_config',
      `The "providers" section of the config file is invalid: ${z.prettifyError(parsed.error)}`,
      {
        issues: parsed.error.issues,
      },
    );
  }
  const entries = parsed.data.providers ?? {};
  const maxRetries = positiveInt(env, 'SHADOWBOX_MODEL_MAX_RETRIES') ?? 3;
  const maxRetryAfterMs = positiveInt(env, 'SHADOWBOX_MODEL_MAX_RETRY_AFTER_MS') ?? 60_000;
  const contextWindow = positiveInt(env, 'SHADOWBOX_CONTEXT_WINDOW');
  const maxTokens = positiveInt(env, 'SHADOWBOX_MAX_TOKENS');
  const thinkingBudget = positiveInt(env, 'SHADOWBOX_THINKING_BUDGET');
  const idleTimeoutMs =
    positiveInt(env, 'SHADOWBOX_MODEL_IDLE_TIMEOUT_MS') ||
    parsed.data.modelIdleTimeoutMs ||
    DEFAULT_MODEL_IDLE_TIMEOUT_MS;
  const firstByteTimeoutMs =
    positiveInt(env, 'SHADOWBOX_MODEL_FIRST_BYTE_TIMEOUT_MS') || parsed.data.modelFirstByteTimeoutMs || idleTimeoutMs;
  const out = new Map<string, ProviderConfig>();
  const names = new Set(['openai', 'anthropic', ...Object.keys(entries)]);
  for (const name of names) {
    const e = entries[name] ?? {};
    const format: WireFormat = e.format ?? (name === 'anthropic' ? 'anthropic' : 'openai');
    const builtin = name === 'openai' || name === 'anthropic';
    const prefix = name.toUpperCase().replace(/-/g, '_');
    const apiKeyEnv = e.apiKeyEnv ?? `${prefix}_API_KEY`;
    const baseUrl = (builtin ? env[`${prefix}_BASE_URL`] : undefined) || e.baseUrl || DEFAULT_BASE_URLS[format];
    if (!builtin && !e.baseUrl) {
      throw new ShadowboxError(
        ErrorCodes.ConfigInvalid,
        'invalid_provider_config',
        `Provider "${name}" in the config file needs a baseUrl.`,
        { provider: name },
      );
    }
    const apiKey = env[apiKeyEnv] || undefined;
    const budget = format === 'anthropic' ? (thinkingBudget ?? e.thinkingBudget) : undefined;
    out.set(name, {
      name,
      format,
      baseUrl: baseUrl.replace(/\/+$/, ''),
      ...(apiKey ? { apiKey } : {}),
      apiKeyEnv,
      maxRetries: e.maxRetries ?? maxRetries,
      maxRetryAfterMs,
      ...((contextWindow ?? e.contextWindow) ? { contextWindow: contextWindow ?? e.contextWindow } : {}),
      ...((maxTokens ?? e.maxTokens) ? { maxTokens: maxTokens ?? e.maxTokens } : {}),
      ...(budget ? { thinkingBudget: budget } : {}),
      headers: e.headers ?? {},
      idleTimeoutMs,
      firstByteTimeoutMs,
    });
  }
  return out;
}

/** A provider is usable with a key, or (OpenAI-compatible only) on a base URL other than api.openai.com. */
export function isConfigured(p: ProviderConfig): boolean {
  return p.apiKey !== undefined || (p.format === 'openai' && p.baseUrl !== DEFAULT_BASE_URLS.openai);
}

/** Splits `provider/model`; the model part may itself contain `/` and `:` (OpenRouter, Ollama). */
export function parseModelSpec(spec: string): { provider: string; model: string } {
  const i = spec.indexOf('/');
  const provider = i > 0 ? spec.slice(0, i) : '';
  const model = i > 0 ? spec.slice(i + 1) : '';
  if (!provider || !model.trim()) {
    throw new ShadowboxError(
      ErrorCodes.ConfigInvalid,
      'invalid_model_spec',
      `"${spec}" is not a model; write provider/model, e.g. openai/gpt-4o or anthropic/claude-sonnet-4-5.`,
      { spec },
    );
  }
  return { provider, model };
}

// Context windows (tokens) of well-known models, matched on the model name's last path segment.
const CONTEXT_WINDOWS: Array<[RegExp, number]> = [
  [/^gpt-4\.1/, 1_047_576],
  [/^gpt-5/, 400_000],
  [/^(gpt-4o|gpt-4-turbo|chatgpt-4o)/, 128_000],
  [/^gpt-4(-\d{4})?$/, 8_192],
  [/^gpt-3\.5-turbo/, 16_385],
  [/^o\d/, 200_000],
  [/^claude-/, 200_000],
  [/^(deepseek|qwen|llama-?3\.[1-3])/, 128_000],
];
export const DEFAULT_CONTEXT_WINDOW = 128_000;

/** The model's context window: provider override, else the table, else 128k. */
export function contextWindowFor(p: ProviderConfig, model: string): number {
  if (p.contextWindow) return p.contextWindow;
  const base = model.split('/').pop()!.toLowerCase();
  return CONTEXT_WINDOWS.find(([re]) => re.test(base))?.[1] ?? DEFAULT_CONTEXT_WINDOW;
}

// Models known to take images (the last path segment of the model name); config.json `models` overrides.
const VISION = [/^gpt-4o/, /^gpt-4\.1/, /^gpt-5/, /^o[134]/, /^claude-(3|opus-4|sonnet-4|haiku-4)/, /^claude-.*-4/];

/** Whether a model takes images: `models.<spec>.images` in config.json, else the table of known vision models. */
export function acceptsImages(settings: ModelSettings | undefined, model: string): boolean {
  if (settings?.images !== undefined) return settings.images;
  const base = model.split('/').pop()!.toLowerCase();
  return VISION.some((re) => re.test(base));
}

/** Anthropic requires max_tokens; these are safe defaults per model family. */
export function anthropicMaxTokens(model: string): number {
  if (/claude-3-(opus|sonnet|haiku)/.test(model)) return 4_096;
  if (/claude-3-5/.test(model)) return 8_192;
  return 16_384;
}
