import path from 'node:path';
import { parseArgs } from 'node:util';
import pc from 'picocolors';
import {
  AmbiguousSessionsData,
  changeBlocks,
  ErrorCodes,
  ShadowAccept,
  ShadowDiff,
  ShadowExport,
  ShadowPending,
  ShadowReject,
  ShadowStatus,
  ShadowUndo,
  type ResultOf,
} from '@shadowbox/protocol';
import { type CliIo, CliError, connectCli, plural, println } from './context.js';
import { optionsOf } from './specs.js';

type Target = { sessionId: string } | { workspace: string };
type Pending = ResultOf<typeof ShadowPending>['sessions'][number];

function target(io: CliIo, values: { workspace?: string | undefined; session?: string | undefined }): Target {
  return values.session ? { sessionId: values.session } : { workspace: path.resolve(io.cwd, values.workspace ?? '.') };
}

/** Colors only for a terminal that wants them (NO_COLOR and pipes get plain text). */
export function colorsFor(io: CliIo) {
  return pc.createColors(Boolean(io.stdout.isTTY) && !io.env.NO_COLOR);
}

/**
 * Renders a diff as unified text with hunk ids; colored when `c` is. A hunk with several runs of changes
 * numbers its lines and names the runs, so one of them can be accepted as FILE#HUNK:FROM-TO.
 */
export function renderDiff(diff: ResultOf<typeof ShadowDiff>, c: ReturnType<typeof colorsFor>): string {
  const out: string[] = [];
  for (const f of diff.files) {
    const label =
      f.change === 'renamed'
        ? `${f.oldPath} → ${f.path}`
        : f.link !== undefined
          ? `${f.path} (symlink → ${f.link})`
          : f.symlink !== undefined
            ? `${f.path} (symlink → ${f.symlink})`
            : f.path;
    out.push(
      c.bold(
        `${f.change.padEnd(8)} ${label}${f.stale ? c.yellow('  (stale: you changed this file since)') : ''}${f.binary ? '  (binary)' : ''}`,
      ),
    );
    if (f.oldMode !== undefined && f.newMode !== undefined && f.oldMode !== f.newMode)
      out.push(`  mode ${f.oldMode.toString(8)} → ${f.newMode.toString(8)}`);
    for (const h of f.hunks) {
      const blocks = changeBlocks(h.lines);
      const split = blocks.length > 1;
      out.push(c.cyan(`  ${h.header}  ${c.dim(`[${h.id}]`)}`));
      if (split)
        out.push(
          c.dim(
            `  ${blocks.length} separate changes, lines ${blocks.map((b) => (b.from === b.to ? `${b.from}` : `${b.from}-${b.to}`)).join(' · ')}: take one with ${h.id}:${blocks[0].from}-${blocks[0].to}`,
          ),
        );
      const width = String(h.lines.length).length;
      h.lines.forEach((l, i) => {
        const text = l.startsWith('+') ? c.green(l) : l.startsWith('-') ? c.red(l) : l;
        out.push(split ? `  ${c.dim(String(i + 1).padStart(width))} ${text}` : `  ${text}`);
      });
    }
  }
  if (diff.files.length === 0) out.push('nothing to review: the shadow workspace has no pending changes');
  return out.join('\n');
}

/** One session's heading in a review of several: id, title, pending files, prompts. */
function sessionHeading(s: Pending, c: ReturnType<typeof colorsFor>): string {
  const what = s.prompts ? `${plural(s.prompts, 'prompt')}` : 'CLI tool runs';
  return c.magenta(
    `── session ${s.sessionId} · ${s.title || '(no prompt yet)'} · ${plural(s.files, 'file')} pending · ${what}`,
  );
}

/** The build output sandboxed commands left in a session's cache: a count, the paths with --include-ignored. */
function ignoredLines(
  status: ResultOf<typeof ShadowStatus>,
  includeIgnored: boolean,
  c: ReturnType<typeof colorsFor>,
): string[] {
  const ig = status.ignored;
  if (!ig) return [];
  return [
    c.dim(
      `build output kept for this session's commands, not reviewed: ${plural(ig.files, 'file')}${includeIgnored ? '' : ' (list them with --include-ignored)'}`,
    ),
    ...(ig.paths ?? []).map((p) =>
      c.dim(`  ${p.change.padEnd(8)} ${p.path}${p.change === 'written' ? ` (${plural(p.files, 'file')})` : ''}`),
    ),
  ];
}

/**
 * `shadowbox review [--workspace DIR] [--session ID] [--include-ignored] [--json]`: pending changes as unified
 * diffs with hunk ids, per session, and a count of the build output commands left in a session's cache
 * (listed with `--include-ignored`; never reviewed or accepted).
 */
export async function reviewCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: optionsOf('review') });
  const client = await connectCli(io, { stateDir: values['state-dir'] });
  const c = colorsFor(io);
  try {
    const t = target(io, values);
    const includeIgnored = values['include-ignored'] === true;
    if ('sessionId' in t) {
      const [status, diff] = [
        await client.request(ShadowStatus, { ...t, includeIgnored }),
        await client.request(ShadowDiff, t),
      ];
      if (values.json) println(io, JSON.stringify({ status, diff }));
      else {
        println(
          io,
          c.dim(
            `session ${status.sessionId} on ${status.workspace}: ${plural(status.files.length, 'file')} pending, ${plural(status.commits.length, 'shadow commit')}, ${plural(status.undoable, 'undoable accept')}`,
          ),
        );
        println(io, renderDiff(diff, c));
        for (const l of ignoredLines(status, includeIgnored, c)) println(io, l);
      }
      return 0;
    }
    // Every session of the workspace with pending changes: a CLI `python` or `exec` run never hides an agent's edits.
    const pending = await client.request(ShadowPending, t);
    const withChanges = pending.sessions.filter((s) => s.files > 0);
    const shown = [];
    for (const s of withChanges)
      shown.push({
        ...s,
        status: await client.request(ShadowStatus, { sessionId: s.sessionId, includeIgnored }),
        diff: await client.request(ShadowDiff, { sessionId: s.sessionId }),
      });
    if (values.json) {
      println(io, JSON.stringify({ workspace: pending.workspace, sessions: shown }));
      return 0;
    }
    if (shown.length === 0) {
      const undoable = pending.sessions.reduce((n, s) => n + s.undoable, 0);
      println(
        io,
        pending.sessions.length === 0
          ? `nothing to review: no shadowbox session on ${pending.workspace}`
          : `nothing to review: none of the ${plural(pending.sessions.length, 'session')} on ${pending.workspace} has pending changes${undoable ? ` (${plural(undoable, 'accept')} can be undone: shadowbox undo)` : ''}`,
      );
      return 0;
    }
    if (shown.length > 1)
      println(
        io,
        c.yellow(
          `${shown.length} sessions on ${pending.workspace} have pending changes; accept, reject and export take --session ID`,
        ),
      );
    for (const s of shown) {
      println(io, sessionHeading(s, c));
      println(io, renderDiff(s.diff, c));
      for (const l of ignoredLines(s.status, includeIgnored, c)) println(io, l);
    }
    return 0;
  } finally {
    client.dispose();
  }
}

/** Splits FILE[#HUNK[:LINES]] arguments into paths and hunk ids. */
export function parseSelection(args: string[]): { paths: string[]; hunks: string[] } {
  const paths: string[] = [];
  const hunks: string[] = [];
  for (const a of args) {
    if (a === 'all') continue;
    if (a.includes('#')) hunks.push(a);
    else paths.push(a);
  }
  return { paths, hunks };
}

/** The daemon's refusal to guess between sessions, as a list the person can pick from. */
function ambiguity(e: unknown, verb: string): CliError | null {
  const err = e as { code?: unknown; data?: unknown };
  const data = err?.code === ErrorCodes.SessionAmbiguous ? AmbiguousSessionsData().safeParse(err.data) : null;
  if (!data?.success) return null;
  const rows = data.data.sessions.map(
    (s) => `  ${s.sessionId}  ${s.title || '(no prompt yet)'}  (${plural(s.files, 'file')})`,
  );
  return new CliError(
    [
      `${rows.length} sessions have pending changes; ${verb} does not guess which one you mean:`,
      ...rows,
      `name one: shadowbox ${verb} --session ID   (shadowbox review shows them all)`,
    ].join('\n'),
    1,
  );
}

function reviewAction(kind: 'accept' | 'reject') {
  return async (io: CliIo, argv: string[]): Promise<number> => {
    const { values, positionals } =
      kind === 'accept'
        ? parseArgs({ args: argv, allowPositionals: true, options: optionsOf('accept') })
        : parseArgs({ args: argv, allowPositionals: true, options: optionsOf('reject') });
    const client = await connectCli(io, { stateDir: values['state-dir'] });
    try {
      const sel = parseSelection(positionals);
      const t = target(io, values);
      const c = colorsFor(io);
      if (kind === 'accept') {
        const force = 'force' in values && values.force === true;
        const r = await client.request(ShadowAccept, { ...t, ...sel, force });
        if (values.json) println(io, JSON.stringify(r));
        else {
          for (const a of r.applied) println(io, `${c.green('✓')} ${a.action} ${a.path}`);
          for (const x of r.conflicts) {
            println(
              io,
              `${c.red('✗ conflict')} ${x.path} (${x.hunks.join(', ') || 'whole file'}): you changed it too; nothing written. Resolve, or accept with --force.`,
            );
            println(io, x.conflictText);
          }
          if (r.applied.length === 0 && r.conflicts.length === 0) println(io, 'nothing accepted: nothing is pending');
        }
        return r.conflicts.length > 0 ? 1 : 0;
      }
      const r = await client.request(ShadowReject, { ...t, ...sel });
      if (values.json) println(io, JSON.stringify(r));
      else
        println(
          io,
          r.rejected.length
            ? r.rejected.map((x) => `${c.yellow('–')} rejected ${x}`).join('\n')
            : 'nothing rejected: nothing is pending',
        );
      return 0;
    } catch (e) {
      throw ambiguity(e, kind) ?? e;
    } finally {
      client.dispose();
    }
  };
}

/** `shadowbox accept [FILE[#HUNK[:LINES]] ...] [--force]`: writes accepted changes to the real files. */
export const acceptCommand = reviewAction('accept');
/** `shadowbox reject [FILE[#HUNK[:LINES]] ...]`: drops pending changes from the shadow workspace. */
export const rejectCommand = reviewAction('reject');

/** `shadowbox undo`: restores the bytes from before the newest accept. */
export async function undoCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: optionsOf('undo') });
  const client = await connectCli(io, { stateDir: values['state-dir'] });
  try {
    const r = await client.request(ShadowUndo, target(io, values));
    if (values.json) println(io, JSON.stringify(r));
    else println(io, r.restored.length ? r.restored.map((p) => `↺ restored ${p}`).join('\n') : 'nothing restored');
    return 0;
  } finally {
    client.dispose();
  }
}

/** `shadowbox shadow export --branch NAME`: the shadow commits as a branch (nothing else changes). */
export async function shadowCommand(io: CliIo, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'export')
    throw new CliError('usage: shadowbox shadow export --branch NAME [--workspace DIR] [--session ID]', 2);
  const { values } = parseArgs({ args: rest, options: optionsOf('shadow') });
  if (!values.branch) throw new CliError('--branch NAME is required', 2);
  const client = await connectCli(io, { stateDir: values['state-dir'] });
  try {
    const r = await client.request(ShadowExport, { ...target(io, values), branch: values.branch });
    if (values.json) println(io, JSON.stringify(r));
    else if (r.where === 'workspace')
      println(
        io,
        `created branch ${r.branch} at ${r.commit.slice(0, 12)} (${plural(r.commits, 'shadow commit')} on top of your HEAD); your working tree, index and HEAD are unchanged`,
      );
    else
      println(
        io,
        `the workspace is not a git repository, so branch ${r.branch} (${plural(r.commits, 'shadow commit')}, ${r.commit.slice(0, 12)}) is in the shadow repository ${r.repository}; fetch it with: git fetch ${r.repository} ${r.branch}`,
      );
    return 0;
  } catch (e) {
    throw ambiguity(e, 'shadow export') ?? e;
  } finally {
    client.dispose();
  }
}
