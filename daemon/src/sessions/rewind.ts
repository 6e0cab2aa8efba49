import { ErrorCodes } from '@shadowbox/protocol';
import type { Conversation } from '../agent/index.js';
import { ShadowboxError } from '../errors.js';

/** Which turns a rewind keeps and drops, and the prompt turn it goes back to the end of (null: before the first). */
export interface RewindPlan {
  toTurn: string | null;
  keep: string[];
  drop: string[];
}

/**
 * Resolves `/rewind [TURN]`: a turnId, or a number as clients show turns (1 = the first prompt still in
 * effect, 0 = before it); by default the prompt before the last. A turn that resumed after a restart
 * belongs to the prompt before it. Refused for an unknown turn and when nothing comes after the target.
 */
export function planRewind(conversation: Conversation, to: string | number | undefined): RewindPlan {
  const turns = conversation.turnList;
  const prompts = turns.filter((t) => t.prompt).map((t) => t.turnId);
  let target: string | null;
  if (to === undefined) target = prompts.length >= 2 ? prompts[prompts.length - 2] : null;
  else if (typeof to === 'number') {
    if (to > prompts.length) throw notFound(String(to), prompts);
    target = to === 0 ? null : prompts[to - 1];
  } else {
    if (!prompts.includes(to)) throw notFound(to, prompts);
    target = to;
  }
  // The first prompt after the target begins what is dropped.
  const next = target === null ? prompts[0] : prompts[prompts.indexOf(target) + 1];
  const cut = next === undefined ? turns.length : turns.findIndex((t) => t.turnId === next);
  const drop = turns.slice(cut).map((t) => t.turnId);
  if (drop.length === 0)
    throw new ShadowboxError(
      ErrorCodes.InvalidParams,
      'nothing_to_rewind',
      target === null ? 'the session has no turn to rewind' : `nothing comes after turn ${prompts.indexOf(target) + 1}`,
    );
  return { toTurn: target, keep: turns.slice(0, cut).map((t) => t.turnId), drop };
}

function notFound(what: string, prompts: string[]): ShadowboxError {
  return new ShadowboxError(
    ErrorCodes.InvalidParams,
    'turn_not_found',
    `no turn ${what} in this session (turns 1–${prompts.length}, or their ids)`,
    { turns: prompts },
  );
}
