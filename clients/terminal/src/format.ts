import {
  summarizeAuditEntry,
  type AuditQuery,
  type ParamsOf,
  type PermissionRequest,
  type PlanItem,
  type ResultOf,
  type SessionList,
  type ShadowAccept,
} from '@shadowbox/protocol';
import type { Colors } from './io.js';

/** "1 file", "3 files": a count with its noun. */
export function count(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}

/** "850 ms", "1.2 s", "2 m 05 s": short enough for a tool line. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s`;
}

/** Shows the first `max` lines of a long text and says how many were left out. */
export function foldLines(text: string, max: number, c: Colors, indent = '  │ '): string[] {
  const lines = text.replace(/\n+$/, '').split('\n');
  if (text.trim() === '') return [];
  // Tabs (read_file's line numbers) would jump to the terminal's tab stops; two spaces keep the fold compact.
  const shown = lines
    .slice(0, max)
    .map((l) => c.dim(`${indent}${(l.length > 400 ? `${l.slice(0, 400)}…` : l).replace(/\t/g, '  ')}`));
  if (lines.length > max)
    shown.push(c.dim(`${indent}… ${lines.length - max} more line${lines.length - max === 1 ? '' : 's'}`));
  return shown;
}

/** Tool input in one line: `{"path":"a.ts"}` → `path=a.ts`; long values are cut. */
export function summarizeInput(input: unknown, max = 160): string {
  let s: string;
  if (input && typeof input === 'object' && !Array.isArray(input)) {
    s = Object.entries(input as Record<string, unknown>)
      .map(
        ([k, v]) =>
          `${k}=${typeof v === 'string' ? JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v) : JSON.stringify(v)}`,
      )
      .join(' ');
  } else s = JSON.stringify(input) ?? '';
  s = s.replace(/\s+/g, ' ');
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

type ToolKind = ParamsOf<typeof PermissionRequest>['kind'];

/** The agent's plan as a checklist: ✓ done, ▸ in progress, ○ pending. */
export function planLines(items: readonly PlanItem[], c: Colors): string[] {
  const done = items.filter((i) => i.status === 'done').length;
  return [
    c.bold(`plan · ${done}/${items.length} done`),
    ...items.map((i) =>
      i.status === 'done'
        ? `  ${c.green('✓')} ${c.dim(i.content)}`
        : i.status === 'in_progress'
          ? `  ${c.cyan('▸')} ${c.bold(i.content)}`
          : `  ${c.dim('○')} ${i.content}`,
    ),
  ];
}

/**
 * A count with thousands commas ("12,345"). Not toLocaleString('en-US'): its first call in a process loads ICU's
 * number formatting (~17 ms here), paid by the footer of every `shadowbox run`.
 */
const n = (x: number): string =>
  Number.isSafeInteger(x) ? String(x).replace(/\B(?=(\d{3})+(?!\d))/g, ',') : x.toLocaleString('en-US');

/** A turn's tokens for the footer: "3,000 in (2,300 cached) / 60 out · $0.0038". */
export function usageLine(u: { input: number; output: number; cached: number; cost: number | undefined }): string {
  return `${n(u.input)} tokens in${u.cached ? ` (${n(u.cached)} cached)` : ''} / ${n(u.output)} out${u.cost !== undefined ? ` · $${u.cost < 0.01 ? u.cost.toFixed(4) : u.cost.toFixed(2)}` : ''}`;
}

/** One color per tool kind, so reads, edits and commands are told apart at a glance. */
export function kindLabel(kind: ToolKind, c: Colors): string {
  const color =
    {
      read: c.blue,
      search: c.blue,
      edit: c.yellow,
      delete: c.red,
      move: c.yellow,
      execute: c.magenta,
      fetch: c.cyan,
      think: c.gray,
      other: c.gray,
    }[kind] ?? c.gray;
  return color(kind.padEnd(7));
}

/** The line shown while a tool call runs (the spinner frame is put in front by the caller). */
export function toolRunningLine(
  t: { tool: string; kind: ToolKind; summary: string; status: string; startedAt: number },
  now: number,
  c: Colors,
): string {
  const waiting = t.status === 'awaiting_permission' ? c.yellow(' waiting for permission') : '';
  return `${kindLabel(t.kind, c)} ${c.bold(t.tool)} ${t.summary}${waiting} ${c.dim(formatDuration(Math.max(0, now - t.startedAt)))}`;
}

/** The line left in the transcript when a tool call ends: outcome mark, kind, tool, summary, duration, reason. */
export function toolDoneLine(
  t: { tool: string; kind: ToolKind; summary: string },
  u: {
    status: 'completed' | 'failed';
    durationMs?: number;
    reason?: string;
    code?: number;
    decision?: { action: string; rule: string };
  },
  c: Colors,
): string {
  const mark = u.status === 'completed' ? c.green('✓') : c.red('✗');
  const why = u.status === 'failed' ? c.red(` ${failureReason(u)}`) : '';
  const dur = u.durationMs !== undefined ? c.dim(` · ${formatDuration(u.durationMs)}`) : '';
  // A process exit code is ≥ 0; negative codes are the daemon's error codes, which the reason already names.
  const code = u.code !== undefined && u.code > 0 ? c.dim(` · exit ${u.code}`) : '';
  return `${mark} ${kindLabel(t.kind, c)} ${c.bold(t.tool)} ${t.summary}${dur}${code}${why}`;
}

/** Why a call failed: a cancel or an unanswered question is not a denial, even though the call was not run. */
function failureReason(u: { reason?: string; decision?: { action: string; rule: string } }): string {
  if (u.reason === 'cancelled') return 'cancelled';
  if (u.reason === 'permission_timeout')
    return `no answer in time, not run${u.decision ? ` (${u.decision.rule})` : ''}`;
  if (u.decision?.action === 'deny') return `denied (${u.decision.rule})`;
  return u.reason ?? 'failed';
}

/** Human names of the permission answers, with the key that picks each. */
export const permissionChoices = [
  { option: 'allow_once', key: 'y', label: 'allow once' },
  { option: 'allow_session', key: 's', label: 'allow for this session' },
  { option: 'allow_project', key: 'p', label: 'always allow for this project' },
  { option: 'deny', key: 'n', label: 'deny' },
] as const;

export type PermissionAnswer = (typeof permissionChoices)[number]['option'];

/**
 * The permission question: what wants to run, with which arguments, which rule asked, and the keys to answer.
 * A `preview` (approval.ts: a write's diff) is shown in place of the argument it replaces.
 */
export function permissionBlock(
  q: ParamsOf<typeof PermissionRequest>,
  c: Colors,
  width = 100,
  preview?: { replaces: string; title: string; lines: string[] } | null,
): string[] {
  const keys = permissionChoices
    .filter((p) => q.options.includes(p.option))
    .map((p) => `${c.bold(c.cyan(`[${p.key}]`))} ${p.label}`);
  const input =
    preview && q.input && typeof q.input === 'object'
      ? Object.fromEntries(Object.entries(q.input).filter(([k]) => k !== preview.replaces))
      : q.input;
  return [
    `${c.yellow('?')} ${c.bold('permission')} ${kindLabel(q.kind, c)} ${c.bold(q.tool)} ${q.summary}`,
    c.dim('  arguments:'),
    ...argumentLines(input, c, width),
    ...(preview ? [c.dim(`    ${preview.title}`), ...preview.lines] : []),
    `  ${c.dim('asked by rule:')} ${q.rule}`,
    `  ${keys.join('  ')}`,
  ];
}

/**
 * A tool's arguments for a person: one `name: value` line per scalar; multi-line or long strings (file content,
 * code, a filter) as their own lines, folded at 12; edit_file's old_string/new_string as removed/added lines.
 * Anything that is not a plain object is shown as indented JSON.
 */
export function argumentLines(input: unknown, c: Colors, width = 100, max = 12): string[] {
  const cut = (l: string, room: number) => (l.length > room ? `${l.slice(0, Math.max(1, room - 1))}…` : l);
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    const lines = (JSON.stringify(input, null, 2) ?? 'null').split('\n');
    const out = lines.slice(0, max).map((l) => c.dim(`    ${cut(l, width - 6)}`));
    if (lines.length > max) out.push(c.dim(`    … ${lines.length - max} more lines`));
    return out;
  }
  const obj = input as Record<string, unknown>;
  const block = (text: string, mark: (l: string) => string) => {
    const lines = text.replace(/\n$/, '').split('\n');
    const out = lines.slice(0, max).map((l) => mark(cut(l.replace(/\t/g, '  '), width - 8)));
    if (lines.length > max) out.push(c.dim(`      … ${lines.length - max} more lines`));
    return out;
  };
  const edit = typeof obj.old_string === 'string' && typeof obj.new_string === 'string';
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    if (edit && (k === 'old_string' || k === 'new_string')) continue;
    if (typeof v === 'string' && (v.includes('\n') || v.length > width - 10 - k.length)) {
      const n = v.replace(/\n$/, '').split('\n').length;
      out.push(c.dim(`    ${k}: (${n} line${n === 1 ? '' : 's'}, ${v.length} chars)`));
      out.push(...block(v, (l) => `      ${c.dim('│')} ${l}`));
    } else
      out.push(
        c.dim(`    ${k}: `) + cut(typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v)), width - 6 - k.length),
      );
  }
  if (edit) {
    out.push(c.dim('    change:'));
    out.push(...block(obj.old_string as string, (l) => `      ${c.red(`-${l}`)}`));
    out.push(...block(obj.new_string as string, (l) => `      ${c.green(`+${l}`)}`));
  }
  return out;
}

/** Parses a typed answer: the key, the option name or the label's first word. */
export function parsePermissionAnswer(text: string, options: readonly string[]): PermissionAnswer | null {
  const t = text.trim().toLowerCase();
  if (!t) return null;
  const aliases: Record<string, PermissionAnswer> = {
    y: 'allow_once',
    yes: 'allow_once',
    a: 'allow_once',
    once: 'allow_once',
    s: 'allow_session',
    session: 'allow_session',
    p: 'allow_project',
    project: 'allow_project',
    always: 'allow_project',
    n: 'deny',
    no: 'deny',
    d: 'deny',
    deny: 'deny',
  };
  const pick = (permissionChoices.find((p) => p.option === t)?.option ?? aliases[t]) as PermissionAnswer | undefined;
  return pick && options.includes(pick) ? pick : null;
}

/** What an accept wrote, and every conflict in full (nothing is written for a conflicted hunk). */
export function renderAccept(r: ResultOf<typeof ShadowAccept>, c: Colors): string[] {
  const out = r.applied.map((a) => `${c.green('✓')} ${a.action} ${a.path}`);
  for (const x of r.conflicts) {
    out.push(
      `${c.red(c.bold('✗ conflict'))} ${c.bold(x.path)} ${c.dim(`(${x.hunks.join(', ') || 'whole file'})`)}: you changed it too; nothing was written for it.`,
    );
    for (const l of x.conflictText.replace(/\n$/, '').split('\n'))
      out.push(`  ${/^(<{7}|={7}|>{7}|\|{7})/.test(l) ? c.red(c.bold(l)) : l}`);
    out.push(c.dim("  edit the file yourself and /reject it, or /accept --force to take the agent's version"));
  }
  if (r.applied.length === 0 && r.conflicts.length === 0) out.push('nothing accepted (no pending change matched)');
  else if (r.acceptId) out.push(c.dim(`accept ${r.acceptId} recorded; /undo restores the previous bytes`));
  return out;
}

type Session = ResultOf<typeof SessionList>['sessions'][number];

/** The session list with the current one marked. */
export function renderSessions(sessions: Session[], currentId: string | null, c: Colors): string[] {
  if (sessions.length === 0) return ['no sessions'];
  return sessions.map((s) => {
    const mark = s.sessionId === currentId ? c.green('●') : ' ';
    const state = s.state === 'idle' ? c.dim(s.state) : c.yellow(s.state);
    return `${mark} ${c.bold(s.sessionId)}  ${state}  ${c.dim(s.model)}  ${s.attached.length} attached  ${c.dim(s.updatedAt.slice(0, 16).replace('T', ' '))}  ${s.title || c.dim('(no prompt yet)')}  ${c.dim(s.workspace)}`;
  });
}

/** Audit entries, one line each: time, type, what happened to what (protocol's summary of the entry). */
export function renderAudit(entries: ResultOf<typeof AuditQuery>['entries'], c: Colors): string[] {
  if (entries.length === 0) return ['the audit log has no entries for this session yet'];
  return entries.map((e) => {
    const sum = summarizeAuditEntry(e);
    const what = sum.outcome === 'error' ? c.red(sum.what) : sum.outcome === 'denied' ? c.yellow(sum.what) : sum.what;
    return `${c.dim(`#${e.seq} ${e.time.slice(11, 19)}`)} ${c.bold(e.type)} ${what}${sum.details.length ? ` · ${sum.details.join(' · ')}` : ''}`.trimEnd();
  });
}
