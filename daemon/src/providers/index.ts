// Model providers: `provider/model` specs → ModelClients over the OpenAI and Anthropic streaming APIs.
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
  /** The resolved configuration of a provider, without its key (for `status` output and docs). */
  describe(name: string): (Omit<ProviderConfig, 'apiKey'> & { hasKey: boolean }) | undefined;
}

/** Resolves provider configuration from env and config file once; throws ConfigInvalid on a bad file or env value. */
export function createModelFactory(deps: ModelFactoryDeps): ModelFactory {
  const all = resolveProviders(deps.env, deps.config);
  const models = providersFileSchema.safeParse(deps.config ?? {}).data?.models ?? {};
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
        throw new ShadowboxError(
          ErrorCodes.ConfigMissing,
          'missing_api_key',
          `Set ${p.apiKeyEnv} to use ${spec}${local}.`,
          { provider, env: p.apiKeyEnv },
        );
      }
      deps.logger.debug(`providers: ${spec} via ${p.baseUrl} (${p.format})`);
      return lazyModel(p, model, clientDeps, models[`${provider}/${model}`]);
    },
    providers: () => [...all.values()].filter(isConfigured).map((p) => p.name),
    describe(name) {
      const p = all.get(name);
      if (!p) return undefined;
      const { apiKey, ...rest } = p;
      return { ...rest, hasKey: apiKey !== undefined };
    },
  };
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
