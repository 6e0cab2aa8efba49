import { z } from 'zod';
import { defineRequest, lazySchema } from './define.js';
import { Usage } from './agent-types.js';

/** A slash command every client offers (ACP `available_commands_update` advertises the same list). */
export interface SlashCommand {
  name: string;
  description: string;
  /** What goes after the name; absent when the command takes nothing. */
  hint?: string;
}

/**
 * The session commands, declared once: the daemon executes them (`session/command`), the terminal and the
 * web page offer them as `/name`, and the ACP bridge advertises them to editors, so review and session
 * controls work in any ACP editor without shadowbox-specific methods.
 */
export const SLASH_COMMANDS = [
  {
    name: 'review',
    description: 'Show the pending changes of the shadow workspace (files, hunks, stable hunk ids).',
    hint: '[FILE…]',
  },
  {
    name: 'accept',
    description:
      'Write pending changes to your files (all, a file, or a hunk FILE#ID); 3-way merge when you changed them.',
    hint: '[all | FILE | FILE#HUNK …] [--force]',
  },
  {
    name: 'reject',
    description: 'Drop pending changes from the shadow workspace (your files are not touched).',
    hint: '[all | FILE | FILE#HUNK …]',
  },
  { name: 'undo', description: 'Undo the last accept (refused when you edited those files since).' },
  {
    name: 'rewind',
    description:
      'Put the conversation and the shadow workspace back to the end of an earlier turn (default: the one before the last). Your files do not change.',
    hint: '[TURN]',
  },
  {
    name: 'compact',
    description:
      'Summarize the older turns now, keeping the task, decisions, files touched, pending changes and open questions.',
  },
  {
    name: 'mode',
    description: 'Show or change the policy mode (read-only, review, auto).',
    hint: '[read-only | review | auto]',
  },
  { name: 'model', description: 'Show or change the model (provider/model).', hint: '[PROVIDER/MODEL]' },
  { name: 'init', description: 'Ask the agent to write an AGENTS.md for this project, as a change you review.' },
] as const satisfies readonly SlashCommand[];

/** Names of the session commands. */
export const SlashCommandName = lazySchema(() => z.enum(SLASH_COMMANDS.map((c) => c.name) as [string, ...string[]]));
export type SlashCommandName = (typeof SLASH_COMMANDS)[number]['name'];

/** Splits a prompt that starts with `/name` into a known command and its argument text; null when it is not one. */
export function parseSlashCommand(text: string): { command: SlashCommandName; args: string } | null {
  const m = /^\/([a-z][a-z-]*)(?:\s+([\s\S]*))?$/.exec(text.trim());
  if (!m) return null;
  const known = SLASH_COMMANDS.find((c) => c.name === m[1]);
  return known ? { command: known.name, args: (m[2] ?? '').trim() } : null;
}

export const SessionCommand = defineRequest({
  method: 'session/command',
  direction: 'clientToDaemon',
  doc: 'Runs one slash command of SLASH_COMMANDS in a session, as any client types it (`/accept src/a.ts#3f2a1c`): the daemon parses `args` the way the terminal does and answers with a text for people (markdown) plus the structured result of the method it stands for (`shadow/status`+`shadow/diff`, `shadow/accept`, `shadow/reject`, `shadow/undo`, `session/rewind`, `session/compact`, `session/configure`; `/init` runs a turn and answers when it ends). Commands that change the session (rewind, compact, mode, model, init) need the driver role.',
  params: () =>
    z.object({
      sessionId: z.string(),
      command: SlashCommandName(),
      args: z.string().max(10_000).default('').describe('Everything typed after the command name.'),
    }),
  result: () =>
    z.object({
      command: SlashCommandName(),
      text: z.string().describe('What happened, for people (markdown).'),
      data: z.record(z.string(), z.unknown()).optional().describe('The result of the method the command stands for.'),
    }),
});

export const SessionRewind = defineRequest({
  method: 'session/rewind',
  direction: 'clientToDaemon',
  doc: "Sent by the driver: puts the session back to the end of an earlier turn. The conversation the model sees next ends there, and every shadow path a later turn changed holds again what it held then (the person's files do not change; nothing is accepted or undone). The later turns stay in the event log, marked by a `rewind` event; the shadow history gets a commit for the rewind. Refused while a turn runs (SessionBusy), for an unknown turn (InvalidParams, turn_not_found) and when there is nothing later (nothing_to_rewind).",
  params: () =>
    z.object({
      sessionId: z.string(),
      toTurn: z
        .union([z.string(), z.number().int().nonnegative()])
        .optional()
        .describe(
          'A turnId, or a turn number as clients show them (1 = the first prompt still in effect, 0 = before it); default: the turn before the last.',
        ),
    }),
  result: () =>
    z.object({
      toTurn: z.string().nullable(),
      rewound: z.array(z.string()),
      files: z.array(z.string()).describe('Shadow paths put back.'),
    }),
});

export const SessionCompact = defineRequest({
  method: 'session/compact',
  direction: 'clientToDaemon',
  doc: 'Sent by the driver (`/compact`): summarizes the older turns now with the session model, as happens by itself when the conversation nears the context window. The summary keeps the task, decisions, files touched, pending shadow changes and open questions; the full history stays in the event log and the audit log. Refused while a turn runs (SessionBusy) and when there is too little to summarize (InvalidParams, nothing_to_compact).',
  params: () => z.object({ sessionId: z.string() }),
  result: () =>
    z.object({
      compacted: z.number().int().describe('Messages the summary replaced.'),
      tokensBefore: z.number().int(),
      tokensAfter: z.number().int(),
      usage: Usage().optional(),
    }),
});
