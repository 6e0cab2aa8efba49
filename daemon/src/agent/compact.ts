import { ErrorCodes, type SessionEventBody, type Usage } from '@shadowbox/protocol';
import { ShadowboxError } from '../errors.js';
import type { ChatMessage, ModelClient } from '../providers/index.js';
import { estimateTokens } from './context.js';
import type { Conversation } from './conversation.js';
import { addUsage, usageOf } from './usage.js';

/** The system prompt of a compaction call; the scripted model server recognizes compaction requests by it. */
export const COMPACT_SYSTEM =
  'You compact the history of a coding session between a person and shadowbox, a coding agent, into a record the agent continues from. Write plain markdown with exactly these sections: ## Task, ## Decisions, ## Files touched, ## Pending shadow changes, ## Open questions, ## Facts to remember. Keep every name, path, number, identifier and requirement the person gave; drop chatter and tool output that no longer matters. Write nothing else.';

/** Characters of one message kept in the transcript the summarizer reads (tool output is cut harder). */
const MAX_TEXT_CHARS = 4_000;
const MAX_TOOL_CHARS = 1_200;

/** What a compaction needs besides the conversation: the model and the session's pending shadow changes. */
export interface CompactOptions {
  conversation: Conversation;
  model: ModelClient;
  turnId: string | null;
  trigger: 'auto' | 'command';
  /** Model tokens the kept messages may take at most (the rest is summarized). */
  keepTokens: number;
  signal: AbortSignal;
  /** Paths with pending changes in the shadow workspace (read when the compaction runs). */
  pendingChanges?: () => Promise<string[]>;
}

/**
 * Where the kept part begins: the earliest user or assistant message after the current summary whose tail
 * fits `keepTokens`, else the last such message (the newest step is never summarized). Null when nothing
 * beyond the current summary could be summarized.
 */
export function chooseKeepFrom(messages: readonly ChatMessage[], from: number, keepTokens: number): number | null {
  let best: number | null = null;
  let last: number | null = null;
  for (let i = messages.length - 1; i > from; i--) {
    const m = messages[i];
    if (m.role === 'tool') continue;
    last ??= i;
    if (estimateTokens(messages.slice(i)) <= keepTokens) best = i;
    else break;
  }
  return best ?? last;
}

/** Paths named by the tool calls of `messages` (path, from, to), split into changed and read. */
export function filesTouched(messages: readonly ChatMessage[]): { changed: string[]; read: string[] } {
  const changed = new Set<string>();
  const read = new Set<string>();
  for (const m of messages) {
    if (m.role !== 'assistant') continue;
    for (const c of m.toolCalls ?? []) {
      let input: unknown;
      try {
        input = JSON.parse(c.arguments);
      } catch {
        continue;
      }
      if (!input || typeof input !== 'object') continue;
      const o = input as Record<string, unknown>;
      const edits = /write|edit|delete|move/.test(c.name);
      for (const k of ['path', 'from', 'to']) if (typeof o[k] === 'string') (edits ? changed : read).add(o[k]);
    }
  }
  return { changed: [...changed].sort(), read: [...read].filter((p) => !changed.has(p)).sort() };
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)} […${text.length - max} more characters]` : text;
}

/** The part to summarize as a transcript the summarizer reads, bounded to `maxChars` (middle parts dropped first). */
export function transcriptOf(summary: string | null, part: readonly ChatMessage[], maxChars: number): string {
  const lines: string[] = [];
  if (summary) lines.push(`Summary of what came before:\n${summary}`);
  for (const m of part) {
    if (m.role === 'user')
      lines.push(
        `Person: ${clip(m.content, MAX_TEXT_CHARS)}${m.images?.length ? ` [${m.images.length} image(s)]` : ''}`,
      );
    else if (m.role === 'assistant') {
      if (m.content) lines.push(`Agent: ${clip(m.content, MAX_TEXT_CHARS)}`);
      for (const c of m.toolCalls ?? []) lines.push(`Agent called ${c.name} ${clip(c.arguments, 400)}`);
    } else lines.push(`Result of ${m.name}${m.isError ? ' (failed)' : ''}: ${clip(m.content, MAX_TOOL_CHARS)}`);
  }
  let total = lines.reduce((n, l) => n + l.length + 2, 0);
  // Too long for the summarizer: drop from the middle, keeping the start (the task) and the end.
  let dropped = 0;
  while (total > maxChars && lines.length > 3) {
    const mid = Math.floor(lines.length / 2);
    total -= lines[mid].length + 2;
    lines.splice(mid, 1);
    dropped++;
  }
  if (dropped) lines.splice(Math.floor(lines.length / 2), 0, `[… ${dropped} message(s) left out to fit …]`);
  return lines.join('\n\n');
}

/**
 * Summarizes the older part of the conversation with the model and returns the `compaction` event to emit
 * (the conversation folds it) plus the call's usage, or null when there is nothing to summarize. The facts
 * the daemon knows for sure (files the tools touched, pending shadow changes) are appended to the model's
 * summary, so the record keeps them even when the model leaves them out.
 */
export async function compactConversation(
  o: CompactOptions,
): Promise<{ event: Extract<SessionEventBody, { type: 'compaction' }>; usage: Usage | undefined } | null> {
  const { conversation: conv } = o;
  const messages = conv.messages;
  const from = conv.keptFrom;
  const keepFrom = chooseKeepFrom(messages, from, o.keepTokens);
  if (keepFrom === null || keepFrom <= from) return null;
  const part = messages.slice(from, keepFrom);
  const tokensBefore = estimateTokens(conv.history);
  const touched = filesTouched(part);
  const pending = (await o.pendingChanges?.().catch(() => null)) ?? null;
  const facts = [
    `Files changed by the agent's tools in this part: ${touched.changed.join(', ') || 'none'}.`,
    `Files read: ${touched.read.join(', ') || 'none'}.`,
    pending ? `Pending shadow changes now (not yet accepted by the person): ${pending.join(', ') || 'none'}.` : '',
  ].filter(Boolean);
  const maxChars = Math.max(8_000, Math.floor(o.model.contextWindow * 0.5) * 4);
  const transcript = transcriptOf(conv.summary, part, maxChars);
  let text = '';
  let usage: Usage | undefined;
  for await (const ev of o.model.stream(
    {
      system: COMPACT_SYSTEM,
      messages: [
        {
          role: 'user',
          content: `${transcript}\n\n---\n${facts.join('\n')}\n\nWrite the compact record of everything above.`,
        },
      ],
      tools: [],
      maxTokens: 4_096,
    },
    o.signal,
  )) {
    if (ev.type === 'text') text += ev.delta;
    else if (ev.type === 'usage') usage = addUsage(usage, usageOf(ev, o.model.prices));
  }
  if (o.signal.aborted)
    throw new ShadowboxError(ErrorCodes.RequestCancelled, 'cancelled', 'the compaction was cancelled');
  if (!text.trim())
    throw new ShadowboxError(
      ErrorCodes.ProviderRequestInvalid,
      'compaction_failed',
      `${o.model.model} answered the compaction request with no summary`,
    );
  const summary = `${text.trim()}\n\n## Known to shadowbox\n${facts.map((f) => `- ${f}`).join('\n')}`;
  const after = [{ role: 'user' as const, content: summary }, ...messages.slice(keepFrom)];
  return {
    event: {
      type: 'compaction',
      turnId: o.turnId,
      summary,
      keepFrom,
      compacted: keepFrom - from,
      tokensBefore,
      tokensAfter: estimateTokens(after),
      trigger: o.trigger,
    },
    usage,
  };
}
