import path from 'node:path';
import { parseArgs } from 'node:util';
import { SessionList, ShadowPending, type ResultOf } from '@shadowbox/protocol';
import { type CliIo, connectCli, plural, println } from './context.js';
import { colorsFor } from './review-commands.js';
import { optionsOf } from './specs.js';

type Pending = ResultOf<typeof ShadowPending>['sessions'][number];

/** "12 s ago", "5 min ago", "3 h ago", "4 d ago": how long since a session last did something. */
export function ago(iso: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

/** "1 file", "3 files". */
export function files(n: number): string {
  return `${n} file${n === 1 ? '' : 's'}`;
}

/** The sessions of one workspace as a table: id, state, pending files, prompts, last activity, title. */
export function renderSessionTable(list: Pending[], c: ReturnType<typeof colorsFor>, now = Date.now()): string[] {
  if (list.length === 0) return ['  (no sessions)'];
  const rows = list.map((s) => [
    s.sessionId,
    s.state.replace('_', ' '),
    s.files ? files(s.files) : '—',
    s.prompts ? String(s.prompts) : '—',
    ago(s.updatedAt, now),
    s.title || '(no prompt yet)',
  ]);
  const head = ['SESSION', 'STATE', 'PENDING', 'PROMPTS', 'LAST ACTIVITY', 'TITLE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    `  ${r
      .map((x, i) => (i === r.length - 1 ? x : x.padEnd(widths[i])))
      .join('  ')
      .trimEnd()}`;
  return [c.dim(line(head)), ...rows.map((r, i) => (list[i].files ? c.bold(line(r)) : line(r)))];
}

/** `shadowbox sessions [--workspace DIR] [--all] [--json]`: every session with its state, pending changes, title and last activity. */
export async function sessionsCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: optionsOf('sessions') });
  const client = await connectCli(io, { stateDir: values['state-dir'] });
  const c = colorsFor(io);
  try {
    const workspaces = values.all
      ? [...new Set((await client.request(SessionList, {})).sessions.map((s) => s.workspace))]
      : [path.resolve(io.cwd, values.workspace ?? '.')];
    const groups = [];
    for (const ws of workspaces) groups.push(await client.request(ShadowPending, { workspace: ws }));
    if (values.json) {
      println(io, JSON.stringify(values.all ? { workspaces: groups } : groups[0]));
      return 0;
    }
    for (const g of groups) {
      println(io, `${c.bold(g.workspace)}  ${c.dim(`${plural(g.sessions.length, 'session')}, newest first`)}`);
      for (const l of renderSessionTable(g.sessions, c)) println(io, l);
    }
    if (groups.every((g) => g.sessions.length === 0) && !values.all)
      println(io, c.dim('start one with: shadowbox chat   or   shadowbox run "PROMPT"'));
    else if (groups.some((g) => g.sessions.some((s) => s.files > 0)))
      println(io, c.dim('see the changes with: shadowbox review   (accept one session’s with --session ID)'));
    return 0;
  } finally {
    client.dispose();
  }
}
