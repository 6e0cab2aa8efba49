import {
  changeBlocks,
  summarizeAuditEntry,
  type AuditQuery,
  type ParamsOf,
  type PermissionRequest,
  type ResultOf,
  type SessionList,
  type ShadowAccept,
  type ShadowDiff,
  type ShadowStatus,
} from '@shadowbox/protocol';
import { diffWordsWithSpace } from 'diff';
import { languageFor, renderSegments, segments, type Segment } from './highlight.js';
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

/** Pending changes as colored unified diffs, per file and hunk, with the ids /accept and /reject take. */
export function renderDiff(
  diff: ResultOf<typeof ShadowDiff>,
  status: ResultOf<typeof ShadowStatus> | null,
  c: Colors,
): string[] {
  const out: string[] = [];
  if (status)
    out.push(
      c.dim(
        `${count(status.files.length, 'file')} pending · ${count(status.commits.length, 'shadow commit')} · ${count(status.undoable, 'accept')} can be undone`,
      ),
    );
  for (const f of diff.files) {
    const label =
      f.change === 'renamed' && f.oldPath
        ? `${f.oldPath} → ${f.path}`
        : f.symlink !== undefined
          ? `${f.path} (symlink → ${f.symlink})`
          : f.path;
    const stale = f.stale
      ? c.yellow(
          c.bold('  ⚠ stale: you changed this file since the agent read it (accept merges; conflicts are shown)'),
        )
      : '';
    out.push('', `${c.bold(changeMark(f.change, c))} ${c.bold(label)}${f.binary ? c.dim('  (binary)') : ''}${stale}`);
    if (f.oldMode !== undefined && f.newMode !== undefined && f.oldMode !== f.newMode)
      out.push(c.dim(`  mode ${f.oldMode.toString(8)} → ${f.newMode.toString(8)}`));
    f.hunks.forEach((h) => {
      out.push(`  ${c.cyan(h.header)}  ${c.bold(c.magenta(`[${h.id}]`))}`);
      // Several runs of changes in one hunk: number its lines, so one run can be taken as HUNK-ID:FROM-TO.
      const blocks = changeBlocks(h.lines);
      const split = blocks.length > 1;
      if (split)
        out.push(
          c.dim(
            `  ${blocks.length} separate changes, lines ${blocks.map((b) => (b.from === b.to ? `${b.from}` : `${b.from}-${b.to}`)).join(' · ')} — take one with /accept ${h.id}:${blocks[0].from}-${blocks[0].to}`,
          ),
        );
      const width = String(h.lines.length).length;
      hunkLines(h.lines, c, languageFor(f.path)).forEach((l, i) =>
        out.push(split ? `  ${c.dim(String(i + 1).padStart(width))} ${l}` : `  ${l}`),
      );
    });
  }
  if (diff.files.length === 0) out.push('nothing to review: the shadow workspace has no pending changes');
  else
    out.push(
      '',
      c.dim('accept with /accept all | FILE | HUNK-ID[:LINES]…   reject with /reject …   undo an accept with /undo'),
    );
  return out;
}

function changeMark(change: string, c: Colors): string {
  return (
    (
      { added: c.green('A'), modified: c.yellow('M'), deleted: c.red('D'), renamed: c.blue('R') } as Record<
        string,
        string
      >
    )[change] ?? change
  );
}

/** One diff line colored by its prefix. */
export function diffLine(l: string, c: Colors): string {
  if (l.startsWith('+')) return c.green(l);
  if (l.startsWith('-')) return c.red(l);
  if (l.startsWith('\\')) return c.dim(l);
  return l;
}

/** Longer lines are colored whole: a word diff of a minified file costs more than it shows. */
const WORD_DIFF_MAX_CHARS = 1000;
/** A pair needing more token edits than this is a rewrite, not an edit: jsdiff gives up early and it is colored whole. */
const WORD_DIFF_MAX_EDITS = 40;

/**
 * A hunk's lines colored by prefix and, with colors on, syntax-highlighted by `lang` (each side of the hunk
 * highlighted as one text, so strings and comments spanning lines stay right). In each run of removed lines
 * followed by a run of added lines, the k-th removed line is paired with the k-th added one and jsdiff's
 * word diff marks what differs (inverse + bold) on both. Lines without a partner, and pairs that share too
 * little to be the same line edited, are not marked. Without colors the lines are returned as they are.
 */
export function hunkLines(lines: readonly string[], c: Colors, lang?: string): string[] {
  if (!c.isColorSupported) return lines.map((l) => diffLine(l, c));
  // Each side's text (old: context and removed lines; new: context and added lines), highlighted whole.
  const oldRows: number[] = [];
  const newRows: number[] = [];
  lines.forEach((l, i) => {
    if (l.startsWith(' ') || l.startsWith('-')) oldRows.push(i);
    if (l.startsWith(' ') || l.startsWith('+')) newRows.push(i);
  });
  const side = (rows: number[]) => segments(rows.map((i) => lines[i].slice(1)).join('\n'), lang);
  const oldSegs = side(oldRows);
  const newSegs = side(newRows);
  const segOf = new Map<number, Segment[]>();
  oldRows.forEach((row, k) => segOf.set(row, oldSegs[k] ?? []));
  newRows.forEach((row, k) => {
    if (lines[row].startsWith('+')) segOf.set(row, newSegs[k] ?? []);
  });
  const marks = new Map<number, Array<[number, number]>>();
  for (let i = 0; i < lines.length;) {
    if (!lines[i].startsWith('-')) {
      i++;
      continue;
    }
    const removed: number[] = [];
    const added: number[] = [];
    let j = i;
    // "\ No newline at end of file" may follow the last line of either run.
    for (; j < lines.length && /^[-\\]/.test(lines[j]); j++) if (lines[j].startsWith('-')) removed.push(j);
    for (; j < lines.length && /^[+\\]/.test(lines[j]); j++) if (lines[j].startsWith('+')) added.push(j);
    for (let k = 0; k < Math.min(removed.length, added.length); k++) {
      const pair = wordMarks(lines[removed[k]].slice(1), lines[added[k]].slice(1));
      if (!pair) continue;
      marks.set(removed[k], pair[0]);
      marks.set(added[k], pair[1]);
    }
    i = j;
  }
  return lines.map((l, i) => {
    if (l.startsWith('\\')) return c.dim(l);
    const kind = l[0] === '+' ? 'addition' : l[0] === '-' ? 'deletion' : undefined;
    const segs = segOf.get(i) ?? [{ text: l.slice(1) }];
    // Without a known language the content keeps the prefix's color.
    const colored = lang ? segs : segs.map((s) => (kind ? { text: s.text, cls: kind } : s));
    const marker = kind === 'addition' ? c.bold(c.green('+')) : kind === 'deletion' ? c.bold(c.red('-')) : l[0];
    return `${marker}${renderSegments(colored, c, marks.get(i))}`;
  });
}

/** The character ranges that differ in a removed and an added line, or null when they share (almost) nothing. */
function wordMarks(before: string, after: string): [Array<[number, number]>, Array<[number, number]>] | null {
  if (before.length > WORD_DIFF_MAX_CHARS || after.length > WORD_DIFF_MAX_CHARS) return null;
  const parts = diffWordsWithSpace(before, after, { maxEditLength: WORD_DIFF_MAX_EDITS });
  if (!parts) return null;
  const solid = (s: string) => s.replace(/\s/g, '').length;
  const same = solid(
    parts
      .filter((p) => !p.added && !p.removed)
      .map((p) => p.value)
      .join(''),
  );
  if (same === 0 || same * 3 < Math.max(solid(before), solid(after))) return null;
  const minus: Array<[number, number]> = [];
  const plus: Array<[number, number]> = [];
  let a = 0;
  let b = 0;
  for (const p of parts) {
    if (p.removed) minus.push([a, (a += p.value.length)]);
    else if (p.added) plus.push([b, (b += p.value.length)]);
    else {
      a += p.value.length;
      b += p.value.length;
    }
  }
  return [minus, plus];
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
