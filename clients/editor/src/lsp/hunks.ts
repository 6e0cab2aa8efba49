// Where a daemon hunk sits in a text the editor holds, and the edit that applies it there. Written here
// rather than taken from `diff` (jsdiff): its applyPatch returns only the patched string, and the language
// server needs the position (diagnostics, lenses, code-action ranges) and a minimal range edit, so that an
// accept touches only the changed lines of a buffer holding the person's unsaved edits elsewhere.
import type { Hunk } from '@shadowbox/protocol';
import type { Range, TextEdit } from 'vscode-languageserver';

type HunkT = Hunk;

/** A hunk as two blocks of lines: what it expects (old) and what it leaves (new), with its leading/trailing context. */
export interface HunkBlocks {
  old: string[];
  new: string[];
  /** Context lines before the first change, and after the last one. */
  lead: number;
  trail: number;
  oldNoEol: boolean;
  newNoEol: boolean;
}

/** Splits unified-diff hunk lines (" ctx", "-old", "+new", "\ No newline…") into the two blocks. */
export function splitHunk(lines: readonly string[]): HunkBlocks {
  const old: string[] = [];
  const neu: string[] = [];
  let oldNoEol = false;
  let newNoEol = false;
  let last = ' ';
  let lead = -1;
  let trailStart = 0;
  for (const l of lines) {
    const tag = l[0] ?? ' ';
    if (tag === '\\') {
      if (last !== '+') oldNoEol = true;
      if (last !== '-') newNoEol = true;
      continue;
    }
    last = tag;
    const text = l.slice(1);
    if (tag === ' ') {
      old.push(text);
      neu.push(text);
      continue;
    }
    if (lead < 0) lead = old.length;
    if (tag === '-') old.push(text);
    else neu.push(text);
    trailStart = old.length;
  }
  if (lead < 0) lead = old.length;
  return { old, new: neu, lead, trail: old.length - Math.max(trailStart, lead), oldNoEol, newNoEol };
}

/** A text split into lines the way an editor numbers them. */
export interface TextLines {
  lines: string[];
  /** The text ends with a line break (so line `lines.length` is an empty position after it). */
  finalEol: boolean;
  eol: '\n' | '\r\n';
}

/** Splits a text into lines (without their line breaks). */
export function toLines(text: string): TextLines {
  const raw = text.split('\n');
  const finalEol = text.endsWith('\n');
  if (finalEol || text === '') raw.pop();
  return {
    lines: raw.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)),
    finalEol,
    eol: text.includes('\r\n') ? '\r\n' : '\n',
  };
}

const matchesAt = (lines: readonly string[], block: readonly string[], at: number) => {
  if (at < 0 || at + block.length > lines.length) return false;
  for (let i = 0; i < block.length; i++) if (lines[at + i] !== block[i]) return false;
  return true;
};

/** The start of `block` in `lines` nearest to `expected`, or -1. */
function findNearest(lines: readonly string[], block: readonly string[], expected: number): number {
  const start = Math.min(Math.max(expected, 0), lines.length);
  for (let d = 0; d <= lines.length; d++) {
    if (matchesAt(lines, block, start - d)) return start - d;
    if (d > 0 && matchesAt(lines, block, start + d)) return start + d;
    if (start - d < 0 && start + d > lines.length) break;
  }
  return -1;
}

/** Where a hunk is in a text: still to apply (`pending`), already applied (`applied`), with its changed lines. */
export interface HunkPlace {
  state: 'pending' | 'applied';
  /** First changed line (0-based) and how many lines the change covers in this text (0 for an insertion). */
  line: number;
  count: number;
}

/** The 0-based line where a hunk's old block starts in the file it was computed on. */
export function expectedLine(h: Pick<HunkT, 'oldStart' | 'oldLines'>): number {
  return h.oldLines > 0 ? h.oldStart - 1 : h.oldStart;
}

/**
 * Finds a hunk in a text: its old block (pending) nearest to where the diff put it, else its new block
 * (applied), else the old block with less context (up to all of it, like patch's fuzz). Null when the
 * changed lines themselves are not there (the person edited them).
 */
export function locateHunk(text: TextLines, b: HunkBlocks, expected: number): HunkPlace | null {
  const removed = b.old.length - b.lead - b.trail;
  const added = b.new.length - b.lead - b.trail;
  const tryBlocks = (state: 'pending' | 'applied'): HunkPlace | null => {
    const block = state === 'pending' ? b.old : b.new;
    const count = state === 'pending' ? removed : added;
    for (let fuzz = 0; fuzz <= Math.max(b.lead, b.trail); fuzz++) {
      const cutLead = Math.min(fuzz, b.lead);
      const cutTrail = Math.min(fuzz, b.trail);
      const core = block.slice(cutLead, block.length - cutTrail);
      if (core.length === 0) continue;
      const at = findNearest(text.lines, core, expected + cutLead);
      if (at >= 0) return { state, line: at + b.lead - cutLead, count };
    }
    return null;
  };
  // A pure insertion into an empty region (no old lines at all) is pending wherever the diff said.
  if (b.old.length === 0) {
    const applied = b.new.length > 0 ? tryBlocks('applied') : null;
    return applied ?? { state: 'pending', line: Math.min(expected, text.lines.length), count: 0 };
  }
  return tryBlocks('pending') ?? tryBlocks('applied');
}

/** The range a diagnostic covers for a placed change: its lines, or the line an insertion goes before. */
export function placeRange(text: Pick<TextLines, 'lines'>, p: HunkPlace): Range {
  const n = text.lines.length;
  if (n === 0) return { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
  const first = Math.min(p.line, n - 1);
  const last = p.count > 0 ? Math.min(p.line + p.count - 1, n - 1) : first;
  return { start: { line: first, character: 0 }, end: { line: last, character: text.lines[last].length } };
}

/** The edit that turns a pending hunk's changed lines into the agent's, touching nothing else. */
export function hunkEdit(text: TextLines, b: HunkBlocks, p: HunkPlace): TextEdit {
  const removed = b.old.length - b.lead - b.trail;
  const core = b.new.slice(b.lead, b.new.length - b.trail);
  const n = text.lines.length;
  const line = Math.min(p.line, n);
  const endLine = line + removed;
  const withEol = (ls: string[]) => ls.map((l) => l + text.eol).join('');
  const pos = (l: number, character = 0) => ({ line: l, character });
  if (endLine < n) return { range: { start: pos(line), end: pos(endLine) }, newText: withEol(core) };
  // The change runs to the end of the text: its last line ends with a break unless the agent's has none.
  const tail = b.newNoEol ? core.join(text.eol) : withEol(core);
  if (text.finalEol || n === 0) return { range: { start: pos(line), end: pos(n) }, newText: tail };
  const lastEnd = pos(n - 1, text.lines[n - 1].length);
  if (removed === 0) return { range: { start: lastEnd, end: lastEnd }, newText: text.eol + tail };
  return { range: { start: pos(line), end: lastEnd }, newText: tail };
}

/** Applies non-overlapping edits to a text (the editor's side of workspace/applyEdit, for tests and checks). */
export function applyEdits(text: string, edits: readonly TextEdit[]): string {
  const offsets: number[] = [];
  let o = 0;
  for (const l of text.split('\n')) {
    offsets.push(o);
    o += l.length + 1;
  }
  const at = (p: { line: number; character: number }) =>
    p.line >= offsets.length ? text.length : Math.min(offsets[p.line] + p.character, text.length);
  const sorted = [...edits].sort((a, b) => at(b.range.start) - at(a.range.start));
  let out = text;
  for (const e of sorted) out = out.slice(0, at(e.range.start)) + e.newText + out.slice(at(e.range.end));
  return out;
}
