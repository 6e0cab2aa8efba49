import type { Usage } from '@shadowbox/protocol';
import type { ModelEvent, ModelPrices } from '../providers/index.js';

type UsageEvent = Extract<ModelEvent, { type: 'usage' }>;

/** The estimated cost of one model call in USD, or undefined when the model has no prices configured. */
export function costOf(u: UsageEvent, prices: ModelPrices | undefined): number | undefined {
  if (!prices) return undefined;
  const cached = u.cachedInputTokens ?? 0;
  const written = u.cacheWriteTokens ?? 0;
  const fresh = Math.max(0, u.inputTokens - cached - written);
  const usd =
    fresh * prices.input +
    cached * (prices.cachedInput ?? prices.input) +
    written * (prices.cacheWrite ?? prices.input) +
    u.outputTokens * prices.output;
  return usd / 1_000_000;
}

/** One model call's usage as the protocol reports it (cost rounded to a millionth of a dollar). */
export function usageOf(u: UsageEvent, prices: ModelPrices | undefined): Usage {
  const cost = costOf(u, prices);
  return {
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    cachedInputTokens: u.cachedInputTokens ?? 0,
    ...(u.cacheWriteTokens ? { cacheWriteTokens: u.cacheWriteTokens } : {}),
    ...(cost !== undefined ? { costUsd: roundUsd(cost) } : {}),
  };
}

/** The sum of two usages; a cost is kept only when both sides have one (or one side is empty). */
export function addUsage(a: Usage | undefined, b: Usage): Usage {
  if (!a) return { ...b };
  const cost =
    a.costUsd !== undefined && b.costUsd !== undefined ? roundUsd(a.costUsd + b.costUsd) : (a.costUsd ?? b.costUsd);
  const write = (a.cacheWriteTokens ?? 0) + (b.cacheWriteTokens ?? 0);
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
    ...(write ? { cacheWriteTokens: write } : {}),
    ...(cost !== undefined ? { costUsd: cost } : {}),
  };
}

function roundUsd(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
