// What the editor is shown for one file with pending agent changes: diagnostics, code lenses, hover text and
// code actions. Pure functions of the daemon's FileDiff and the text the editor holds (or a sketch of the saved
// file rebuilt from the hunks), so the unit tests cover them without a connection.
import type { FileDiff } from '@shadowbox/protocol';
import {
  CodeActionKind,
  DiagnosticSeverity,
  type CodeAction,
  type CodeLens,
  type Diagnostic,
  type Range,
} from 'vscode-languageserver';
import {
  expectedLine,
  locateHunk,
  placeRange,
  splitHunk,
  type HunkBlocks,
  type HunkPlace,
  type TextLines,
} from './hunks.js';

export type FileDiffT = FileDiff;
type HunkT = FileDiffT['hunks'][number];

/** The language server's commands (workspace/executeCommand), as code actions and lenses carry them. */
export const Commands = {
  accept: 'shadowbox.accept',
  reject: 'shadowbox.reject',
  undo: 'shadowbox.undo',
} as const;

/** One hunk with where it sits in the text the editor shows. */
export interface PlacedHunk {
  hunk: HunkT;
  blocks: HunkBlocks;
  /** Null when its changed lines are no longer in the text (the person edited them). */
  place: HunkPlace | null;
  range: Range;
}

/** A file as shown: a whole-file change (added, deleted, moved, binary, mode) or its text hunks. */
export interface FileView {
  diff: FileDiffT;
  /** A sentence for changes that are not line hunks, shown on line 1. */
  whole: string | null;
  hunks: PlacedHunk[];
}

const LINE1: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

/** Control characters and overlong lines from the model's text never reach the editor's UI (one-line summaries). */
export function clean(s: string, max = 60): string {
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** The same for a line of code: indentation and tabs kept. */
function codeLine(s: string, max = 400): string {
  const t = s.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, ' ');
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** The saved file rebuilt from the hunks' own old lines (enough to place them when the file is not open). */
export function sketchText(hunks: readonly HunkT[]): TextLines {
  const lines: string[] = [];
  for (const h of hunks) {
    const b = splitHunk(h.lines);
    const at = expectedLine(h);
    for (let i = lines.length; i < at; i++) lines.push('');
    b.old.forEach((l, i) => (lines[at + i] = l));
  }
  return { lines, finalEol: true, eol: '\n' };
}

/** What kind of whole-file change a diff is, in a sentence; null for line hunks. */
export function wholeChange(d: FileDiffT): string | null {
  if (d.change === 'added') return `agent adds this file (${d.hunks.reduce((n, h) => n + h.newLines, 0)} lines)`;
  if (d.change === 'deleted') return 'agent deletes this file';
  if (d.change === 'renamed')
    return `agent moves this file to ${clean(d.path, 200)}${d.hunks.length ? ` and changes ${d.hunks.length} part(s) of it` : ''}`;
  if (d.binary) return 'agent changes this binary file';
  if (d.hunks.length === 0 && d.oldMode !== undefined && d.newMode !== undefined)
    return `agent changes the file mode ${d.oldMode.toString(8)} → ${d.newMode.toString(8)}`;
  if (d.hunks.length === 0) return 'agent changes this file';
  return null;
}

/** Places every hunk of a file in `text` (the editor's buffer, the saved file, or a sketch of it). */
export function viewFile(d: FileDiffT, text: TextLines | null): FileView {
  const whole = wholeChange(d);
  if (whole) return { diff: d, whole, hunks: [] };
  const t = text ?? sketchText(d.hunks);
  const hunks = d.hunks.map((hunk) => {
    const blocks = splitHunk(hunk.lines);
    const place = locateHunk(t, blocks, expectedLine(hunk));
    const fallback: HunkPlace = { state: 'pending', line: expectedLine(hunk) + blocks.lead, count: 0 };
    return { hunk, blocks, place, range: placeRange(t, place ?? fallback) };
  });
  return { diff: d, whole: null, hunks };
}

/** One line saying what a hunk changes. */
export function describeHunk(b: HunkBlocks): string {
  const removed = b.old.slice(b.lead, b.old.length - b.trail);
  const added = b.new.slice(b.lead, b.new.length - b.trail);
  const q = (s: string | undefined) => `"${clean(s ?? '')}"`;
  const n = (k: number) => `${k} line${k === 1 ? '' : 's'}`;
  if (removed.length === 0) return `agent inserts ${n(added.length)}: ${q(added[0])}`;
  if (added.length === 0) return `agent deletes ${n(removed.length)}: ${q(removed[0])}`;
  return `agent replaces ${n(removed.length)} with ${n(added.length)}: ${q(removed[0])} → ${q(added[0])}`;
}

/** Diagnostics of one file: one per pending hunk, a hint per hunk accepted into the buffer, line 1 for a whole-file change. */
export function diagnosticsOf(v: FileView, acceptedInBuffer: ReadonlySet<string> = new Set()): Diagnostic[] {
  const stale = v.diff.stale ? ' (you changed this file since the agent read it: accepting merges)' : '';
  if (v.whole)
    return [
      {
        range: LINE1,
        severity: DiagnosticSeverity.Information,
        source: 'shadowbox',
        message: `${v.whole}${stale}`,
        code: v.diff.path,
      },
    ];
  return v.hunks.flatMap((h): Diagnostic[] => {
    if (h.place?.state === 'applied')
      return acceptedInBuffer.has(h.hunk.id)
        ? [
            {
              range: h.range,
              severity: DiagnosticSeverity.Hint,
              source: 'shadowbox',
              code: h.hunk.id,
              message: 'agent change accepted in this buffer: save to write it',
            },
          ]
        : [];
    const lost = h.place ? '' : ' (the lines it replaces were edited since)';
    return [
      {
        range: h.range,
        severity: DiagnosticSeverity.Information,
        source: 'shadowbox',
        code: h.hunk.id,
        message: `${describeHunk(h.blocks)}${lost || stale}`,
        data: { hunk: h.hunk.id },
      },
    ];
  });
}

const overlaps = (a: Range, b: Range) => !(a.end.line < b.start.line || b.end.line < a.start.line);

/** Hunks whose lines meet a range (a cursor, a selection). */
export function hunksAt(v: FileView, r: Range): PlacedHunk[] {
  return v.hunks.filter((h) => h.place?.state !== 'applied' && overlaps(h.range, r));
}

/** Command arguments: which file, and which hunks (none = the whole file). */
export interface ReviewTarget {
  uri: string;
  hunks?: string[];
}

const action = (title: string, command: string, target: ReviewTarget, diagnostics: Diagnostic[] = []): CodeAction => ({
  title,
  kind: CodeActionKind.QuickFix,
  diagnostics,
  command: { title, command, arguments: [target] },
});

/** Code actions at a range: accept/reject the hunk(s) there, and accept/reject everything in the file. */
export function codeActionsOf(v: FileView, uri: string, r: Range, diagnostics: Diagnostic[]): CodeAction[] {
  const mine = diagnostics.filter((d) => d.source === 'shadowbox');
  if (v.whole) {
    if (!overlaps(LINE1, r)) return [];
    return [
      action('Accept agent change', Commands.accept, { uri }, mine),
      action('Reject agent change', Commands.reject, { uri }, mine),
    ];
  }
  const here = hunksAt(v, r);
  const pending = v.hunks.filter((h) => h.place?.state !== 'applied');
  if (pending.length === 0) return [];
  const out: CodeAction[] = [];
  if (here.length > 0) {
    const hunks = here.map((h) => h.hunk.id);
    const diags = mine.filter((d) => typeof d.code === 'string' && hunks.includes(d.code));
    const accept = action(
      here.length === 1 ? 'Accept agent change' : `Accept ${here.length} agent changes`,
      Commands.accept,
      { uri, hunks },
      diags,
    );
    out.push({ ...accept, isPreferred: true });
    out.push(
      action(
        here.length === 1 ? 'Reject agent change' : `Reject ${here.length} agent changes`,
        Commands.reject,
        { uri, hunks },
        diags,
      ),
    );
  }
  out.push(action('Accept all in file', Commands.accept, { uri, hunks: pending.map((h) => h.hunk.id) }));
  out.push(action('Reject all in file', Commands.reject, { uri, hunks: pending.map((h) => h.hunk.id) }));
  return out;
}

/** "Accept · Reject" lenses above each pending hunk (line 1 for a whole-file change). */
export function codeLensesOf(v: FileView, uri: string): CodeLens[] {
  const lens = (line: number, title: string, command: string, target: ReviewTarget): CodeLens => ({
    range: { start: { line, character: 0 }, end: { line, character: 0 } },
    command: { title, command, arguments: [target] },
  });
  if (v.whole) return [lens(0, 'Accept', Commands.accept, { uri }), lens(0, 'Reject', Commands.reject, { uri })];
  return v.hunks
    .filter((h) => h.place?.state !== 'applied')
    .flatMap((h) => [
      lens(h.range.start.line, 'Accept', Commands.accept, { uri, hunks: [h.hunk.id] }),
      lens(h.range.start.line, 'Reject', Commands.reject, { uri, hunks: [h.hunk.id] }),
    ]);
}

/** Markdown for a hover: the hunk's diff in a fence no line of it can close. */
export function hoverOf(h: PlacedHunk, stale: boolean, maxLines = 200): string {
  const body = h.hunk.lines.slice(0, maxLines).map((l) => codeLine(l));
  if (h.hunk.lines.length > maxLines) body.push(`… ${h.hunk.lines.length - maxLines} more lines`);
  const longest = Math.max(
    2,
    ...[h.hunk.header, ...body].map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((m) => m.length))),
  );
  const fence = '`'.repeat(longest + 1);
  return [
    `**shadowbox**: pending agent change \`${clean(h.hunk.id, 120).replace(/`/g, "'")}\`${stale ? ' (the file changed since the agent read it)' : ''}`,
    '',
    `${fence}diff`,
    codeLine(h.hunk.header),
    ...body,
    fence,
    '',
    'Accept or reject it with a code action (or the lenses above it).',
  ].join('\n');
}
