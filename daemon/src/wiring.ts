import { ErrorCodes } from '@shadowbox/protocol';
import type { AgentTools } from './agent/index.js';
import type { Capabilities, CapabilityContext } from './daemon.js';
import { ShadowboxError } from './errors.js';

/** Wires providers, tools, policy, audit, shadow, WASI and bundles into the daemon. */
export async function wireCapabilities(ctx: CapabilityContext): Promise<Capabilities> {
  const noTools: AgentTools = { specs: () => [], describe: () => null, call: async () => ({ isError: true, content: 'no tools', durationMs: 0 }) };
  return {
    providers: [],
    wasiRunners: [],
    sessionDeps: {
      defaultModel: async () => ctx.env.SHADOWBOX_MODEL ?? 'openai/gpt-4o-mini',
      defaultMode: 'review',
      maxTurns: 25,
      permissionTimeoutMs: 10 * 60_000,
      system: () => 'You are shadowbox, a coding agent.',
      createModel: (spec) => {
        throw new ShadowboxError(ErrorCodes.ConfigMissing, 'no_provider', 'no model provider is wired yet');
      },
      createTools: () => noTools,
      checkpoint: async () => null,
    },
  };
}
