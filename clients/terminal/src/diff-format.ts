// /review's text: pending changes as unified diffs with hunk ids, each hunk's lines colored by prefix,
// syntax-highlighted by the file's language (within a budget) and word-marked where a line was edited.
import { changeBlocks, type ResultOf, type ShadowDiff, type ShadowStatus } from '@shadowbox/protocol';
import { diffWordsWithSpace } from 'diff';
import { count } from './format.js';
import { HIGHLIGHT_MAX_CHARS, languageFor, renderSegments, segments, type Segment } from './highlight.js';
import type { Colors } from './io.js';

/** Characters of diff /review highlights (highlight.js costs ~50–300 µs a TypeScript line here, by load). */
const REVIEW_HIGHLIGHT_BUDGET = 100_000;

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
  // Syntax colors for the first REVIEW_HIGHLIGHT_BUDGET characters of hunks; the rest keeps +/- colors and marks.
  let budget = REVIEW_HIGHLIGHT_BUDGET;
  let plainHunks = 0;
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
      const size = h.lines.reduce((n, l) => n + l.length, 0);
      const lang = languageFor(f.path);
      const colored = lang !== undefined && c.isColorSupported && size <= budget && size <= HIGHLIGHT_MAX_CHARS;
      if (colored) budget -= size;
      else if (lang !== undefined && c.isColorSupported) plainHunks++;
      hunkLines(h.lines, c, colored ? lang : undefined).forEach((l, i) =>
        out.push(split ? `  ${c.dim(String(i + 1).padStart(width))} ${l}` : `  ${l}`),
      );
    });
  }
  if (plainHunks)
    out.push(
      c.dim(
        `(${count(plainHunks, 'hunk')} without syntax colors: a hunk over ${HIGHLIGHT_MAX_CHARS / 1000}k characters, or past the first ${REVIEW_HIGHLIGHT_BUDGET / 1000}k of the review)`,
      ),
    );
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
 * little to be the same line edited, are not marked. Without colors the lines are returned as they are; a
 * hunk over HIGHLIGHT_MAX_CHARS is colored by prefix (and marked), not highlighted.
 */
export function hunkLines(lines: readonly string[], c: Colors, language?: string): string[] {
  if (!c.isColorSupported) return lines.map((l) => diffLine(l, c));
  // A hunk too long to highlight quickly keeps its +/- colors and word marks only.
  const size = lines.reduce((n, l) => n + l.length, 0);
  const lang = size <= HIGHLIGHT_MAX_CHARS ? language : undefined;
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
