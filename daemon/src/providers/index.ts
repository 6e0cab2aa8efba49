// Model providers: `provider/model` specs → ModelClients over the OpenAI and Anthropic streaming APIs.
import { createHash } from 'node:crypto';
import { ErrorCodes } from '@shadowbox/protocol';
import type { ClientDeps } from './openai.js';
import type { ModelClient } from './types.js';
import { ShadowboxError } from '../errors.js';
import type { Logger } from '../state/index.js';
import {
  acceptsImages,
  contextWindowFor,
  isConfigured,
  type ModelSettings,
  parseModelSpec,
  providersFileSchema,
  resolveProviders,
  type ProviderConfig,
} from './config.js';

export {
  providersFileSchema,
  resolveProviders,
  parseModelSpec,
  contextWindowFor,
  DEFAULT_CONTEXT_WINDOW,
  type ProviderConfig,
  type ProvidersFileConfig,
} from './config.js';
export { cancelledError } from './errors.js';
export type * from './types.js';

export interface ModelFactoryDeps {
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** The parsed config file (its `providers` section is read); absent means environment only. */
  config?: unknown;
}

/** Creates ModelClients by spec; the daemon builds one factory at start. */
export interface ModelFactory {
  /** `openai/<model>`, `anthropic/<model>` or `<configured provider>/<model>`; throws ShadowboxError when not usable. */
  create(spec: string): ModelClient;
  /** Names of the providers that are configured (have a key, or a custom base URL for OpenAI-compatible ones). */
  providers(): string[];
  /** The environment variables the model settings came from: secrets as fingerprints only (daemon/status). */
  environment(): EnvironmentSetting[];
  /** The resolved configuration of a provider, without its key (for `status` output and docs). */
  describe(name: string): (Omit<ProviderConfig, 'apiKey'> & { hasKey: boolean }) | undefined;
}

/** Resolves provider configuration from env and config file once; throws ConfigInvalid on a bad file or env value. */
export function createModelFactory(deps: ModelFactoryDeps): ModelFactory {
  const all = resolveProviders(deps.env, deps.config);
  const models = providersFileSchema().safeParse(deps.config ?? {}).data?.models ?? {};
  const clientDeps = { env: deps.env, logger: deps.logger, fetch: deps.fetch ?? globalThis.fetch };
  return {
    create(spec) {
      const { provider, model } = parseModelSpec(spec);
      const p = all.get(provider);
      if (!p) {
        throw new ShadowboxError(
          ErrorCodes.ConfigInvalid,
          'unknown_provider',
          `Unknown model provider "${provider}" in "${spec}"; use one of: ${[...all.keys()].join(', ')}.`,
          {
            provider,
            known: [...all.keys()],
          },
        );
      }
      if (!isConfigured(p)) {
        const local =
          p.format === 'openai' && provider === 'openai'
            ? `, or set OPENAI_BASE_URL to a local OpenAI-compatible server`
            : '';
        // The daemon read its environment once, when it started: say so, or an `export` in the shell looks ignored.
        throw new ShadowboxError(
          ErrorCodes.ConfigMissing,
          'missing_api_key',
          `Set ${p.apiKeyEnv} to use ${spec}${local}. The daemon (pid ${process.pid}) reads it from the environment of the command that started it: after exporting it, run \`shadowbox stop\` and the next shadowbox command starts a daemon with your environment.`,
          { provider, env: p.apiKeyEnv, pid: process.pid },
        );
      }
      deps.logger.debug(`providers: ${spec} via ${p.baseUrl} (${p.format})`);
      return lazyModel(p, model, clientDeps, models[`${provider}/${model}`]);
    },
    providers: () => [...all.values()].filter(isConfigured).map((p) => p.name),
    environment: () => environmentSettings(deps.env, all),
    describe(name) {
      const p = all.get(name);
      if (!p) return undefined;
      const { apiKey, ...rest } = p;
      return { ...rest, hasKey: apiKey !== undefined };
    },
  };
}

/** One model setting the daemon read from its environment (the shape of daemon/status `environment`). */
export interface EnvironmentSetting {
  name: string;
  set: boolean;
  secret: boolean;
  value?: string;
  fingerprint?: string;
}

/** First 12 hex digits of SHA-256: enough to tell two keys apart, useless for recovering one. */
export function fingerprintOf(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 12);
}

/** Every provider's key variable (secret), the built-in base URL variables and SHADOWBOX_MODEL, as the daemon saw them. */
function environmentSettings(env: NodeJS.ProcessEnv, all: Map<string, ProviderConfig>): EnvironmentSetting[] {
  const out: EnvironmentSetting[] = [];
  const plain = (name: string) => {
    const v = env[name];
    out.push({ name, set: Boolean(v), secret: false, ...(v ? { value: v } : {}) });
  };
  for (const p of all.values()) {
    if (out.some((o) => o.name === p.apiKeyEnv)) continue;
    const v = env[p.apiKeyEnv];
    out.push({ name: p.apiKeyEnv, set: Boolean(v), secret: true, ...(v ? { fingerprint: fingerprintOf(v) } : {}) });
  }
  for (const name of ['OPENAI_BASE_URL', 'ANTHROPIC_BASE_URL', 'SHADOWBOX_MODEL']) plain(name);
  return out;
}

/**
 * The SDKs cost ~150 ms to import; the daemon loads the one a session needs on its first model call,
 * so start-up (which clients wait for when they auto-start the daemon) does not pay for both.
 */
function lazyModel(p: ProviderConfig, model: string, clientDeps: ClientDeps, settings?: ModelSettings): ModelClient {
  let client: Promise<ModelClient> | null = null;
  const load = () =>
    (client ??=
      p.format === 'anthropic'
        ? import('./anthropic.js').then((m) => m.createAnthropicModel(p, model, clientDeps))
        : import('./openai.js').then((m) => m.createOpenAIModel(p, model, clientDeps)));
  return {
    model: `${p.name}/${model}`,
    contextWindow: settings?.contextWindow ?? contextWindowFor(p, model),
    images: acceptsImages(settings, model),
    ...(settings?.prices ? { prices: settings.prices } : {}),
    async *stream(req, signal) {
      yield* (await load()).stream(req, signal);
    },
  };
}
