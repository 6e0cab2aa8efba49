import type { ChatMessage } from '../providers/index.js';

/** Rough token estimate (4 characters a token) used only for the context budget. */
export function estimateTokens(messages: readonly ChatMessage[], system = ''): number {
  let chars = system.length;
  for (const m of messages) {
    chars += m.content.length + 16;
    // An image costs about a thousand tokens whatever its bytes (both providers scale it down).
    if (m.role === 'user' && m.images) chars += m.images.length * 4_000;
    if (m.role === 'assistant') for (const c of m.toolCalls ?? []) chars += c.arguments.length + c.name.length;
  }
  return Math.ceil(chars / 4);
}

export const ELIDED_PREFIX = '[shadowbox: tool output elided to fit the context window';

/**
 * Keeps the conversation under budget: replaces the oldest tool outputs (never those of the
 * latest assistant message) with a short marker until the estimate fits. User and assistant
 * text is never touched. Returns a new array (the session history keeps the full outputs and may grow
 * while the model streams).
 */
export function fitContext(
  messages: readonly ChatMessage[],
  budgetTokens: number,
  system = '',
): { messages: ChatMessage[]; elided: number } {
  if (estimateTokens(messages, system) <= budgetTokens) return { messages: messages.slice(), elided: 0 };
  let lastAssistant = -1;
  messages.forEach((m, i) => {
    if (m.role === 'assistant') lastAssistant = i;
  });
  const out = messages.slice();
  let elided = 0;
  let total = estimateTokens(out, system);
  for (let i = 0; i < out.length && total > budgetTokens; i++) {
    const m = out[i];
    if (m.role !== 'tool' || i > lastAssistant || m.content.startsWith(ELIDED_PREFIX)) continue;
    const replacement = `${ELIDED_PREFIX}; it was ${m.content.length} characters. Call the tool again if you need it.]`;
    total -= Math.ceil((m.content.length - replacement.length) / 4);
    out[i] = { ...m, content: replacement };
    elided++;
  }
  return { messages: out, elided };
}
