import path from 'node:path';
import { parseArgs } from 'node:util';
import pc from 'picocolors';
import {
  ShadowAccept,
  ShadowDiff,
  ShadowExport,
  ShadowReject,
  ShadowStatus,
  ShadowUndo,
  type ResultOf,
} from '@shadowbox/protocol';
import { type CliIo, CliError, connectCli, println } from './context.js';

const targetOptions = {
  workspace: { type: 'string', short: 'w' },
  session: { type: 'string', short: 's' },
  json: { type: 'boolean' },
  'state-dir': { type: 'string' },
} as const;

function target(io: CliIo, values: { workspace?: string; session?: string }) {
  return values.session ? { sessionId: values.session } : { workspace: path.resolve(io.cwd, values.workspace ?? '.') };
}

/** Colors only for a terminal that wants them (NO_COLOR and pipes get plain text). */
export function colorsFor(io: CliIo) {
  return pc.createColors(Boolean(io.stdout.isTTY) && !io.env.NO_COLOR);
}

/** Renders a diff as unified text with hunk ids; colored when `c` is. */
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
      out.push(c.cyan(`  ${h.header}  ${c.dim(`[${h.id}]`)}`));
      for (const l of h.lines) out.push(`  ${l.startsWith('+') ? c.green(l) : l.startsWith('-') ? c.red(l) : l}`);
    }
  }
  if (diff.files.length === 0) out.push('nothing to review: the shadow workspace has no pending changes');
  return out.join('\n');
}

/**
 * `shadowbox review [--workspace DIR] [--session ID] [--include-ignored] [--json]`: pending changes as unified
 * diffs with hunk ids, and a count of the build output commands left in the session's cache (listed with
 * `--include-ignored`; never reviewed or accepted).
 */
export async function reviewCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { ...targetOptions, 'include-ignored': { type: 'boolean' } },
  });
  const client = await connectCli(io, { stateDir: values['state-dir'] });
  try {
    const t = target(io, values);
    const includeIgnored = values['include-ignored'] === true;
    const [status, diff] = [
      await client.request(ShadowStatus, { ...t, includeIgnored }),
      await client.request(ShadowDiff, t),
    ];
    if (values.json) println(io, JSON.stringify({ status, diff }));
    else {
      println(
        io,
        colorsFor(io).dim(
          `session ${status.sessionId} on ${status.workspace}: ${status.files.length} file(s), ${status.commits.length} shadow commit(s), ${status.undoable} undoable accept(s)`,
        ),
      );
      println(io, renderDiff(diff, colorsFor(io)));
      const ig = status.ignored;
      if (ig) {
        println(
          io,
          colorsFor(io).dim(
            `build output kept for this session's commands, not reviewed: ${ig.files} file(s)${includeIgnored ? '' : ' (list them with --include-ignored)'}`,
          ),
        );
        for (const p of ig.paths ?? [])
          println(
            io,
            colorsFor(io).dim(
              `  ${p.change.padEnd(8)} ${p.path}${p.change === 'written' ? ` (${p.files} files)` : ''}`,
            ),
          );
      }
    }
    return 0;
  } finally {
    client.dispose();
  }
}

/** Splits FILE[#HUNK] arguments into paths and hunk ids. */
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

function reviewAction(kind: 'accept' | 'reject') {
  return async (io: CliIo, argv: string[]): Promise<number> => {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { ...targetOptions, force: { type: 'boolean' } },
    });
    const client = await connectCli(io, { stateDir: values['state-dir'] });
    try {
      const sel = parseSelection(positionals);
      const t = target(io, values);
      const c = colorsFor(io);
      if (kind === 'accept') {
        const r = await client.request(ShadowAccept, { ...t, ...sel, force: values.force ?? false });
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
          if (r.applied.length === 0 && r.conflicts.length === 0) println(io, 'nothing accepted');
        }
        return r.conflicts.length > 0 ? 1 : 0;
      }
      const r = await client.request(ShadowReject, { ...t, ...sel });
      if (values.json) println(io, JSON.stringify(r));
      else
        println(
          io,
          r.rejected.length ? r.rejected.map((x) => `${c.yellow('–')} rejected ${x}`).join('\n') : 'nothing to reject',
        );
      return 0;
    } finally {
      client.dispose();
    }
  };
}

/** `shadowbox accept [FILE[#HUNK] ...] [--force]`: writes accepted changes to the real files. */
export const acceptCommand = reviewAction('accept');
/** `shadowbox reject [FILE[#HUNK] ...]`: drops pending changes from the shadow workspace. */
export const rejectCommand = reviewAction('reject');

/** `shadowbox undo`: restores the bytes from before the last accept. */
export async function undoCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: targetOptions });
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

/** `shadowbox shadow export --branch NAME`: the shadow commits as a branch in your repository (nothing else changes). */
export async function shadowCommand(io: CliIo, argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'export')
    throw new CliError('usage: shadowbox shadow export --branch NAME [--workspace DIR] [--session ID]', 2);
  const { values } = parseArgs({ args: rest, options: { ...targetOptions, branch: { type: 'string', short: 'b' } } });
  if (!values.branch) throw new CliError('--branch NAME is required', 2);
  const client = await connectCli(io, { stateDir: values['state-dir'] });
  try {
    const r = await client.request(ShadowExport, { ...target(io, values), branch: values.branch });
    if (values.json) println(io, JSON.stringify(r));
    else
      println(
        io,
        `created branch ${r.branch} at ${r.commit.slice(0, 12)} (${r.commits} shadow commit(s) on top of your HEAD); your working tree, index and HEAD are unchanged`,
      );
    return 0;
  } finally {
    client.dispose();
  }
}
