import { createHash } from 'node:crypto';

/** One hunk as the protocol shows it (id "path#hash", stable across diff calls and other hunks' accepts). */
export interface HunkInfo {
  id: string;
  header: string;
  oldStart: number;
  oldLines: number;
  newStart: number;
  newLines: number;
  lines: string[];
}

/** Text larger than this (either side) is reviewed as a whole file, without hunks. */
export const MAX_DIFF_BYTES = 4 * 1024 * 1024;
/** Beyond this many differing lines the diff is one replace hunk (Myers' trace grows with the square of it). */
const MAX_EDIT_DISTANCE = 2000;
const CONTEXT = 3;
const NO_EOL = '\\ No newline at end of file';

/** Git's heuristic: a NUL byte in the first 8000 bytes makes a file binary. */
export function looksBinary(head: Uint8Array): boolean {
  const n = Math.min(head.byteLength, 8000);
  for (let i = 0; i < n; i++) if (head[i] === 0) return true;
  return false;
}

/** Lines with their terminators, so "x" and "x\n" at the end of a file differ as git says they do. */
function tokens(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', start)) {
    out.push(text.slice(start, i + 1));
    start = i + 1;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

type Op = 0 | 1 | 2; // equal, delete, insert

/** Myers' O(ND) diff over interned lines; returns the edit script for a[lo..] / b[lo..] after trimming. */
function editScript(a: number[], b: number[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = -1;
  for (let d = 0; d <= Math.min(max, MAX_EDIT_DISTANCE) && found < 0; d++) {
    trace.push(v.slice(offset - d - 1, offset + d + 2));
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = d;
        break;
      }
    }
  }
  if (found < 0) return [...new Array<Op>(n).fill(1), ...new Array<Op>(m).fill(2)];
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = found; d > 0; d--) {
    const t = trace[d]; // V before step d, indexed k + d + 1
    const at = (k: number) => t[k + d + 1];
    const k = x - y;
    const prevK = k === -d || (k !== d && at(k - 1) < at(k + 1)) ? k + 1 : k - 1;
    const prevX = at(prevK);
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      ops.push(0);
      x--;
      y--;
    }
    ops.push(x === prevX ? 2 : 1);
    x = prevX;
    y = prevY;
  }
  while (x > 0 && y > 0) {
    ops.push(0);
    x--;
    y--;
  }
  return ops.reverse();
}

/** Hunks and a unified patch of old → new for one path; ids hash only the changed lines, so they survive line shifts. */
export function diffText(
  path: string,
  oldPath: string,
  oldText: string,
  newText: string,
): { patch: string; hunks: HunkInfo[] } {
  const a = tokens(oldText);
  const b = tokens(newText);
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const ids = new Map<string, number>();
  const intern = (s: string) => ids.get(s) ?? (ids.set(s, ids.size), ids.size - 1);
  const ma = a.slice(pre, a.length - suf).map(intern);
  const mb = b.slice(pre, b.length - suf).map(intern);
  // No line in common (a rewrite): the answer is "replace all" without running Myers to its worst case.
  const inA = new Set(ma);
  const mid = mb.some((x) => inA.has(x))
    ? editScript(ma, mb)
    : [...new Array<Op>(ma.length).fill(1), ...new Array<Op>(mb.length).fill(2)];
  const ops: Op[] = [...new Array<Op>(pre).fill(0), ...mid, ...new Array<Op>(suf).fill(0)];
  // Group changes into hunks with CONTEXT lines around them (hunks closer than 2×CONTEXT merge).
  const raw: { start: number; end: number }[] = [];
  for (let i = 0; i < ops.length; i++) {
    if (ops[i] === 0) continue;
    let j = i;
    while (j < ops.length && ops[j] !== 0) j++;
    const last = raw.at(-1);
    if (last && i - last.end <= 2 * CONTEXT) last.end = j;
    else raw.push({ start: i, end: j });
    i = j - 1;
  }
  // Line numbers at each op index.
  const ai = new Int32Array(ops.length + 1);
  const bi = new Int32Array(ops.length + 1);
  for (let i = 0; i < ops.length; i++) {
    ai[i + 1] = ai[i] + (ops[i] === 2 ? 0 : 1);
    bi[i + 1] = bi[i] + (ops[i] === 1 ? 0 : 1);
  }
  const seen = new Map<string, number>();
  const hunks: HunkInfo[] = raw.map(({ start, end }) => {
    const s = Math.max(0, start - CONTEXT);
    const e = Math.min(ops.length, end + CONTEXT);
    const lines: string[] = [];
    for (let i = s; i < e; i++) {
      const tok = ops[i] === 2 ? b[bi[i]] : a[ai[i]];
      const eol = tok.endsWith('\n');
      lines.push((ops[i] === 0 ? ' ' : ops[i] === 1 ? '-' : '+') + (eol ? tok.slice(0, -1) : tok));
      if (!eol) lines.push(NO_EOL);
    }
    const oldLines = ai[e] - ai[s];
    const newLines = bi[e] - bi[s];
    const oldStart = oldLines === 0 ? ai[s] : ai[s] + 1;
    const newStart = newLines === 0 ? bi[s] : bi[s] + 1;
    const changed = lines.filter((l) => l.startsWith('+') || l.startsWith('-')).join('\n');
    const hash = createHash('sha256').update(changed).digest('hex').slice(0, 10);
    const n = (seen.get(hash) ?? 0) + 1;
    seen.set(hash, n);
    const header = `@@ -${oldStart},${oldLines} +${newStart},${newLines} @@`;
    return { id: `${path}#${n === 1 ? hash : `${hash}-${n}`}`, header, oldStart, oldLines, newStart, newLines, lines };
  });
  const body = hunks.map((h) => [h.header, ...h.lines].join('\n')).join('\n');
  const patch = hunks.length === 0 ? '' : `--- a/${oldPath}\n+++ b/${path}\n${body}\n`;
  return { patch, hunks };
}

/** Applies a subset of the hunks of old → new to old; null when they no longer apply. */
export function applyHunks(oldText: string, hunks: HunkInfo[]): string | null {
  const a = tokens(oldText);
  const out: string[] = [];
  let pos = 0;
  for (const h of [...hunks].sort((x, y) => x.oldStart - y.oldStart)) {
    const start = h.oldLines === 0 ? h.oldStart : h.oldStart - 1;
    if (start < pos) return null;
    while (pos < start) out.push(a[pos++]);
    for (let i = 0; i < h.lines.length; i++) {
      const l = h.lines[i];
      if (l === NO_EOL) continue;
      const tok = l.slice(1) + (h.lines[i + 1] === NO_EOL ? '' : '\n');
      if (l[0] === '+') out.push(tok);
      else {
        if (a[pos] !== tok) return null;
        if (l[0] === ' ') out.push(tok);
        pos++;
      }
    }
  }
  while (pos < a.length) out.push(a[pos++]);
  return out.join('');
}

/**
 * A hunk narrowed to some of its lines (1-based positions in `lines`): removed lines outside the selection
 * stay as they are (context), added lines outside it are left out. The old side is unchanged, so it
 * applies where the hunk does; null when the selection holds no changed line. A hunk touching a last line
 * without a newline is taken whole only (a part of it could glue two lines together).
 */
export function subHunk(h: HunkInfo, picked: ReadonlySet<number>, id: string): HunkInfo | 'no_change' | 'eol' {
  const changed = h.lines.flatMap((l, i) => (l[0] === '+' || l[0] === '-' ? [i + 1] : []));
  const taken = changed.filter((i) => picked.has(i));
  if (taken.length === 0) return 'no_change';
  if (taken.length === changed.length) return { ...h, id };
  if (h.lines.includes(NO_EOL)) return 'eol';
  const lines: string[] = [];
  h.lines.forEach((l, i) => {
    if (l[0] === '+') {
      if (picked.has(i + 1)) lines.push(l);
    } else if (l[0] === '-') lines.push(picked.has(i + 1) ? l : ` ${l.slice(1)}`);
    else lines.push(l);
  });
  const newLines = lines.filter((l) => l[0] === ' ' || l[0] === '+').length;
  const header = `@@ -${h.oldStart},${h.oldLines} +${h.newStart},${newLines} @@`;
  return { ...h, id, header, newLines, lines };
}
