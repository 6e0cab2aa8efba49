import {
  PolicyMode,
  AuditQuery,
  SessionCommand,
  SessionConfigure,
  SLASH_COMMANDS,
  SessionList,
  ShadowAccept,
  ShadowDiff,
  ShadowReject,
  ShadowStatus,
  ShadowUndo,
  type ResultOf,
  type SessionCreate,
} from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import { renderDiff } from './diff-format.js';
import { renderAccept, renderAudit, renderSessions } from './format.js';
import type { Look } from './io.js';

type SessionInfo = ResultOf<typeof SessionCreate>;

/** What a slash command may use from the chat it runs in. */
export interface CommandContext {
  client: ShadowboxClient;
  look: Look;
  print(lines: string | string[]): void;
  session(): SessionInfo;
  isDriver(): boolean;
  attach(sessionId: string, driver: boolean): Promise<void>;
  takeDriver(): Promise<void>;
  cancelTurn(): Promise<void>;
  /** Hunk ids and paths from the last /review, for completion. */
  remember(ids: string[]): void;
}

interface Command {
  usage: string;
  summary: string;
  run(ctx: CommandContext, args: string[]): Promise<'exit' | void>;
}

/** Splits FILE / FILE#HUNK arguments; "all" (or nothing) selects everything. */
export function parseSelection(args: string[]): { paths: string[]; hunks: string[] } {
  const paths: string[] = [];
  const hunks: string[] = [];
  for (const a of args) {
    if (a === 'all' || a.startsWith('--')) continue;
    (a.includes('#') ? hunks : paths).push(a);
  }
  return { paths, hunks };
}

/**
 * A protocol slash command the daemon executes (`session/command`): its text answer is printed. The terminal
 * keeps richer local forms of /review, /accept, /reject, /undo, /mode and /model (colored diffs).
 */
function daemonCommand(name: string): Command {
  const declared = SLASH_COMMANDS.find((c) => c.name === name)!;
  return {
    usage: `/${name}${'hint' in declared ? ` ${declared.hint}` : ''}`,
    summary: declared.description,
    async run(ctx, args) {
      const r = await ctx.client.request(SessionCommand, {
        sessionId: ctx.session().sessionId,
        command: name,
        args: args.join(' '),
      });
      ctx.print(r.text.split('\n'));
    },
  };
}

const commands: Record<string, Command> = {
  help: {
    usage: '/help',
    summary: 'this list',
    async run(ctx) {
      const c = ctx.look.colors;
      const width = Math.max(...Object.values(commands).map((x) => x.usage.length));
      ctx.print([
        ...Object.values(commands).map((x) => `  ${c.cyan(x.usage.padEnd(width))}  ${x.summary}`),
        c.dim('  Ctrl-C cancels the running turn; a second Ctrl-C (or Ctrl-D) exits — the daemon keeps the session.'),
        c.dim('  Tab completes commands, files and hunk ids; ↑/↓ walk the history.'),
      ]);
    },
  },
  review: {
    usage: '/review [FILE…]',
    summary: 'pending changes as colored diffs per file and hunk, with hunk ids',
    async run(ctx, args) {
      const sessionId = ctx.session().sessionId;
      const status = await ctx.client.request(ShadowStatus, { sessionId });
      const diff = await ctx.client.request(ShadowDiff, { sessionId, ...(args.length ? { paths: args } : {}) });
      ctx.remember([...diff.files.map((f) => f.path), ...diff.files.flatMap((f) => f.hunks.map((h) => h.id))]);
      ctx.print(renderDiff(diff, status, ctx.look.colors));
    },
  },
  accept: {
    usage: '/accept [all|FILE|HUNK-ID…] [--force]',
    summary: 'write accepted changes to your files (3-way merge; conflicts shown)',
    async run(ctx, args) {
      const r = await ctx.client.request(ShadowAccept, {
        sessionId: ctx.session().sessionId,
        ...parseSelection(args),
        force: args.includes('--force'),
      });
      ctx.print(renderAccept(r, ctx.look.colors));
    },
  },
  reject: {
    usage: '/reject [all|FILE|HUNK-ID…]',
    summary: 'drop pending changes (your files are not touched)',
    async run(ctx, args) {
      const r = await ctx.client.request(ShadowReject, { sessionId: ctx.session().sessionId, ...parseSelection(args) });
      const c = ctx.look.colors;
      ctx.print(r.rejected.length ? r.rejected.map((x) => `${c.yellow('–')} rejected ${x}`) : 'nothing to reject');
    },
  },
  undo: {
    usage: '/undo',
    summary: 'undo the last accept (refused if you edited those files since)',
    async run(ctx) {
      const r = await ctx.client.request(ShadowUndo, { sessionId: ctx.session().sessionId });
      ctx.print(
        r.restored.length ? r.restored.map((p) => `${ctx.look.colors.cyan('↺')} restored ${p}`) : 'nothing to restore',
      );
    },
  },
  sessions: {
    usage: '/sessions [--all]',
    summary: 'sessions on this workspace (or all)',
    async run(ctx, args) {
      const r = await ctx.client.request(
        SessionList,
        args.includes('--all') ? {} : { workspace: ctx.session().workspace },
      );
      ctx.print(renderSessions(r.sessions, ctx.session().sessionId, ctx.look.colors));
    },
  },
  attach: {
    usage: '/attach ID',
    summary: 'switch to another session (watching; /drive to take over)',
    async run(ctx, args) {
      if (!args[0]) return ctx.print('usage: /attach SESSION-ID (see /sessions)');
      await ctx.attach(args[0], false);
    },
  },
  drive: {
    usage: '/drive',
    summary: 'take the driver role (only the driver sends prompts)',
    async run(ctx) {
      if (ctx.isDriver()) return ctx.print('you are already the driver');
      await ctx.takeDriver();
    },
  },
  model: {
    usage: '/model [PROVIDER/MODEL]',
    summary: 'show or change the model',
    async run(ctx, args) {
      if (!args[0]) return ctx.print(`model ${ctx.session().model} · mode ${ctx.session().mode}`);
      await ctx.client.request(SessionConfigure, { sessionId: ctx.session().sessionId, model: args[0] });
    },
  },
  mode: {
    usage: '/mode [read-only|review|auto]',
    summary: 'show or change the policy mode',
    async run(ctx, args) {
      const mode = args[0];
      if (!mode) return ctx.print(`mode ${ctx.session().mode}`);
      const parsed = PolicyMode().safeParse(mode);
      if (!parsed.success) return ctx.print(`the mode is ${PolicyMode().options.join(', ')}`);
      await ctx.client.request(SessionConfigure, { sessionId: ctx.session().sessionId, mode: parsed.data });
    },
  },
  rewind: daemonCommand('rewind'),
  compact: daemonCommand('compact'),
  init: daemonCommand('init'),
  audit: {
    usage: '/audit [N]',
    summary: 'the last N audit entries of this session (default 20)',
    async run(ctx, args) {
      const n = Math.max(1, Number(args[0]) || 20);
      const s = ctx.session();
      const r = await ctx.client.request(AuditQuery, {
        workspace: s.workspace,
        sessionId: s.sessionId,
        limit: 100_000,
      });
      ctx.print(renderAudit(r.entries.slice(-n), ctx.look.colors));
    },
  },
  cancel: {
    usage: '/cancel',
    summary: 'cancel the running turn (same as Ctrl-C)',
    async run(ctx) {
      await ctx.cancelTurn();
    },
  },
  exit: {
    usage: '/exit',
    summary: 'leave (the daemon keeps the session; resume with chat --session ID)',
    async run() {
      return 'exit';
    },
  },
};

/** Names of the slash commands, for completion. */
export const commandNames = Object.keys(commands).map((n) => `/${n}`);

/** Runs one "/name args…" line. Failures of the daemon are printed, not thrown. */
export async function runSlashCommand(ctx: CommandContext, line: string): Promise<'exit' | void> {
  const [head, ...args] = line.trim().slice(1).split(/\s+/).filter(Boolean);
  const name = head === 'quit' || head === 'q' ? 'exit' : head === '?' ? 'help' : (head ?? 'help');
  const cmd = commands[name];
  const c = ctx.look.colors;
  if (!cmd) return ctx.print(`unknown command /${name} — ${c.cyan('/help')} lists them`);
  try {
    return await cmd.run(ctx, args);
  } catch (e) {
    ctx.print(c.red(`✗ /${name}: ${describeError(e)}`));
  }
}

/** One sentence for a JSON-RPC error (message, code and reason) or any other failure. */
export function describeError(e: unknown): string {
  const err = e as { code?: unknown; message?: unknown; data?: { reason?: unknown } };
  if (err && typeof err.message === 'string') {
    const reason = typeof err.data?.reason === 'string' ? err.data.reason : undefined;
    return typeof err.code === 'number' ? `${err.message} (${err.code}${reason ? ` ${reason}` : ''})` : err.message;
  }
  return String(e);
}

/** Completes "/com" to command names and arguments of /accept, /reject and /review to remembered files and hunk ids. */
export function completeLine(line: string, remembered: readonly string[]): [string[], string] {
  if (!line.startsWith('/')) return [[], line];
  const parts = line.split(/\s+/);
  if (parts.length === 1) {
    const hits = commandNames.filter((n) => n.startsWith(line));
    return [hits.length ? hits : commandNames, line];
  }
  const last = parts[parts.length - 1];
  if (['/accept', '/reject', '/review'].includes(parts[0])) {
    const pool = parts[0] === '/review' ? remembered.filter((x) => !x.includes('#')) : ['all', ...remembered];
    return [pool.filter((x) => x.startsWith(last)), last];
  }
  return [[], last];
}
