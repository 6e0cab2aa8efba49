import {
  ErrorCodes,
  PolicyMode,
  SessionCommand,
  SessionCompact,
  SessionRewind,
  SLASH_COMMANDS,
  type ParamsOf,
  type ResultOf,
} from '@shadowbox/protocol';
import { ShadowboxError } from '../errors.js';
import { INIT_PROMPT, type SessionManager } from '../sessions/index.js';
import type { ClientHandle } from './client.js';
import type { HandlerTable } from './connection.js';
import type { ReviewPort } from './capability-handlers.js';
import type { ReviewTarget } from './review-target.js';

type CommandResult = ResultOf<typeof SessionCommand>;
type Cancel = { onCancellationRequested(l: () => void): unknown };

/** Lines of one file's diff a `/review` text shows (the data carries all of it). */
const REVIEW_LINES_PER_FILE = 200;

/** `/accept` and `/reject` arguments: `all` (or nothing) is everything, `FILE#HUNK` a hunk, else a file. */
export function parseSelection(args: string): { paths: string[]; hunks: string[]; force: boolean } {
  const paths: string[] = [];
  const hunks: string[] = [];
  let force = false;
  for (const a of args.split(/\s+/).filter(Boolean)) {
    if (a === '--force') force = true;
    else if (a === 'all') continue;
    else if (a.startsWith('--')) throw badArgs('accept', `unknown option ${a}`);
    else (a.includes('#') ? hunks : paths).push(a);
  }
  return { paths, hunks, force };
}

function badArgs(command: string, why: string): ShadowboxError {
  const c = SLASH_COMMANDS.find((x) => x.name === command);
  const usage = `/${command}${c && 'hint' in c ? ` ${c.hint}` : ''}`;
  return new ShadowboxError(ErrorCodes.InvalidParams, 'bad_command_arguments', `${why}; usage: ${usage}`, { usage });
}

function list(items: string[], none: string): string {
  return items.length ? items.map((x) => `- \`${x}\``).join('\n') : none;
}

/**
 * Registers session/command (the slash commands every client offers, executed here so every client does
 * the same), session/rewind and session/compact.
 */
export function registerCommandHandlers(table: HandlerTable, sessions: SessionManager, review: ReviewPort): void {
  const target = (sessionId: string): ReviewTarget => {
    const live = sessions.get(sessionId);
    return { sessionId: live.id, workspace: live.meta.workspace };
  };
  table
    .on(SessionRewind, (p, { client }) => sessions.rewind(p, client))
    .on(SessionCompact, (p, { client, token }) => {
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return sessions.compact(p, client, abort.signal);
    })
    .on(SessionCommand, (p, { client, token }) => runCommand(p, client, token));

  async function runCommand(
    p: ParamsOf<typeof SessionCommand>,
    client: ClientHandle,
    token: Cancel,
  ): Promise<CommandResult> {
    const t = target(p.sessionId);
    const args = p.args.trim();
    const done = (text: string, data?: Record<string, unknown>): CommandResult => ({
      command: p.command,
      text,
      ...(data ? { data } : {}),
    });
    switch (p.command) {
      case 'review': {
        const status = await review.status(t);
        const diff = await review.diff(t, args ? args.split(/\s+/) : undefined);
        if (diff.files.length === 0) return done('Nothing is pending in the shadow workspace.', { status, diff });
        const parts = [
          `**${diff.files.length} file(s) with pending changes** — \`/accept FILE#HUNK\` takes one hunk, \`/accept\` all.`,
        ];
        for (const f of diff.files) {
          parts.push(
            `### ${f.path} (${f.change}${f.stale ? ', you changed it since' : ''}${f.binary ? ', binary' : ''})`,
            ...f.hunks.map((h) => `- hunk \`${h.id}\` ${h.header}`),
          );
          const lines = f.patch.split('\n');
          if (!f.binary)
            parts.push(
              `\`\`\`diff\n${lines.slice(0, REVIEW_LINES_PER_FILE).join('\n')}${lines.length > REVIEW_LINES_PER_FILE ? `\n… ${lines.length - REVIEW_LINES_PER_FILE} more line(s)` : ''}\n\`\`\``,
            );
        }
        return done(parts.join('\n\n'), { status, diff });
      }
      case 'accept': {
        const r = await review.accept(t, parseSelection(args), client);
        const wrote = r.applied.map((a) => `${a.path} (${a.action})`);
        const text = [
          r.applied.length ? `Accepted into your files:\n${list(wrote, '')}` : 'Nothing was accepted.',
          r.conflicts.length
            ? `Conflicts (nothing written for them; \`/accept --force\` writes the agent’s version):\n${list(
                r.conflicts.map((c) => c.path),
                '',
              )}`
            : '',
          r.acceptId ? '`/undo` takes it back.' : '',
        ];
        return done(text.filter(Boolean).join('\n\n'), r);
      }
      case 'reject': {
        const sel = parseSelection(args);
        if (sel.force) throw badArgs('reject', '--force is for /accept');
        const r = await review.reject(t, { paths: sel.paths, hunks: sel.hunks }, client);
        return done(
          r.rejected.length ? `Dropped from the shadow workspace:\n${list(r.rejected, '')}` : 'Nothing was pending.',
          r,
        );
      }
      case 'undo': {
        if (args) throw badArgs('undo', 'it takes no arguments');
        const r = await review.undo(t, client);
        return done(`Undid accept ${r.acceptId}; restored:\n${list(r.restored, '(nothing)')}`, r);
      }
      case 'rewind': {
        if (args && !/^\S+$/.test(args)) throw badArgs('rewind', 'give one turn');
        const toTurn = args === '' ? undefined : /^\d+$/.test(args) ? Number(args) : args;
        const r = await sessions.rewind(
          { sessionId: p.sessionId, ...(toTurn !== undefined ? { toTurn } : {}) },
          client,
        );
        return done(
          `Rewound ${r.rewound.length} turn(s)${r.toTurn ? '' : ' (back to before the first prompt)'}; they stay in the log, marked rewound.\nShadow files put back:\n${list(r.files, '(none)')}\nYour own files did not change.`,
          r,
        );
      }
      case 'compact': {
        if (args) throw badArgs('compact', 'it takes no arguments');
        const abort = new AbortController();
        token.onCancellationRequested(() => abort.abort());
        const r = await sessions.compact({ sessionId: p.sessionId }, client, abort.signal);
        return done(`Summarized ${r.compacted} message(s): about ${r.tokensBefore} → ${r.tokensAfter} tokens.`, r);
      }
      case 'mode': {
        const live = sessions.get(p.sessionId);
        if (!args)
          return done(`Mode: ${live.meta.mode} (one of ${PolicyMode().options.join(', ')}).`, { mode: live.meta.mode });
        const mode = PolicyMode().safeParse(args);
        if (!mode.success) throw badArgs('mode', `"${args}" is not a mode`);
        const info = await sessions.configure(p.sessionId, client, { mode: mode.data });
        return done(`Mode: ${info.mode}.`, { mode: info.mode });
      }
      case 'model': {
        const live = sessions.get(p.sessionId);
        if (!args) return done(`Model: ${live.meta.model}.`, { model: live.meta.model });
        if (!/^[a-z0-9][a-z0-9_-]*\/\S+$/.test(args)) throw badArgs('model', `"${args}" is not provider/model`);
        const info = await sessions.configure(p.sessionId, client, { model: args });
        return done(`Model: ${info.model}.`, { model: info.model });
      }
      case 'init': {
        const r = await sessions.prompt(
          { sessionId: p.sessionId, text: args ? `${INIT_PROMPT}\n\n${args}` : INIT_PROMPT, command: 'init' },
          client,
          token,
        );
        return done(
          r.stopReason === 'end_turn'
            ? 'The agent wrote its AGENTS.md proposal into the shadow workspace: `/review` shows it, `/accept AGENTS.md` keeps it.'
            : `The /init turn ended with ${r.stopReason}${r.error ? `: ${r.error.message}` : ''}.`,
          r,
        );
      }
      default:
        throw new ShadowboxError(ErrorCodes.InvalidParams, 'bad_command_arguments', `no command /${p.command}`);
    }
  }
}
