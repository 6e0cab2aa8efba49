import { changeBlocks, type ResultOf, type ShadowDiff } from '@shadowbox/protocol';
import { h } from './dom.js';
import { highlightLines, languageFor } from './highlight.js';

type Hunk = ResultOf<typeof ShadowDiff>['files'][number]['hunks'][number];

/** Unified (one column, -/+ rows) or side by side (old left, new right). */
export type DiffLayout = 'unified' | 'split';

const LAYOUT_KEY = 'shadowbox.diffLayout';

/** The diff layout this browser chose last (unified by default). */
export function savedLayout(): DiffLayout {
  return localStorage.getItem(LAYOUT_KEY) === 'split' ? 'split' : 'unified';
}

/** Remembers the diff layout for the review pane and the permission cards. */
export function saveLayout(layout: DiffLayout): void {
  localStorage.setItem(LAYOUT_KEY, layout);
}

/** Accept or reject one run of changes of a split hunk (its selection "path#id:FROM-TO"). */
export interface BlockActions {
  accept(selection: string): void;
  reject(selection: string): void;
}

interface Row {
  /** Index into hunk.lines. */
  i: number;
  kind: ' ' | '-' | '+';
  oldNo?: number;
  newNo?: number;
}

/** Line numbers of each hunk line on the old and new side ("\ No newline" rows are dropped). */
function rowsOf(h: Hunk): Row[] {
  const out: Row[] = [];
  let o = h.oldStart;
  let n = h.newStart;
  h.lines.forEach((l, i) => {
    if (l.startsWith('\\')) return;
    if (l.startsWith('-')) out.push({ i, kind: '-', oldNo: o++ });
    else if (l.startsWith('+')) out.push({ i, kind: '+', newNo: n++ });
    else out.push({ i, kind: ' ', oldNo: o++, newNo: n++ });
  });
  return out;
}

/** Each hunk line's HTML, highlighted per side as one text (null: show the text as is). */
function highlighted(h: Hunk, path: string): Map<number, string> {
  const lang = languageFor(path);
  const out = new Map<number, string>();
  if (!lang) return out;
  for (const side of ['-', '+'] as const) {
    const idx = h.lines.flatMap((l, i) => (l.startsWith(' ') || l.startsWith(side) ? [i] : []));
    const html = highlightLines(idx.map((i) => h.lines[i].slice(1)).join('\n'), lang);
    if (!html) return out;
    idx.forEach((i, k) => {
      if (!out.has(i) || h.lines[i].startsWith(side)) out.set(i, html[k] ?? '');
    });
  }
  return out;
}

function codeCell(h: Hunk, i: number | undefined, html: Map<number, string>, cls: string): HTMLElement {
  const td = h_('td', `code ${cls}`);
  if (i === undefined) return td;
  const markup = html.get(i);
  // Sanitized in highlightLines (spans with a class only); otherwise plain text.
  if (markup !== undefined) td.innerHTML = markup || ' ';
  else td.textContent = h.lines[i].slice(1) || ' ';
  return td;
}

function h_(tag: 'td' | 'tr', className: string, text?: string): HTMLElement {
  const el = document.createElement(tag);
  el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

/**
 * A hunk as a table, unified or side by side, syntax-highlighted by the file's language. With `blocks`, a
 * hunk holding several runs of changes gets a bar above each run to accept or reject that run alone
 * (split at unchanged lines).
 */
export function renderHunk(hunk: Hunk, path: string, layout: DiffLayout, blocks?: BlockActions): HTMLElement {
  const rows = rowsOf(hunk);
  const html = highlighted(hunk, path);
  const runs = changeBlocks(hunk.lines);
  const startOf = new Map(runs.map((b, k) => [b.from - 1, k]));
  const table = h('table', { className: `diff diff-${layout}`, 'data-testid': 'diff' });
  const bar = (at: number): HTMLElement | null => {
    const k = startOf.get(at);
    if (!blocks || k === undefined || runs.length < 2) return null;
    const b = runs[k];
    const sel = `${hunk.id}:${b.from}-${b.to}`;
    const tr = h_('tr', 'block-bar');
    const td = document.createElement('td');
    td.colSpan = 4;
    td.append(
      h('span', {}, `change ${k + 1} of ${runs.length} (lines ${b.from}-${b.to})`),
      h(
        'button',
        { className: 'primary small', 'data-testid': 'accept-block', onclick: () => blocks.accept(sel) },
        'Accept',
      ),
      h(
        'button',
        { className: 'danger small', 'data-testid': 'reject-block', onclick: () => blocks.reject(sel) },
        'Reject',
      ),
    );
    tr.append(td);
    return tr;
  };
  if (layout === 'unified') {
    for (const r of rows) {
      const b = bar(r.i);
      if (b) table.append(b);
      const cls = r.kind === '+' ? 'add' : r.kind === '-' ? 'del' : 'ctx';
      const tr = h_('tr', cls);
      tr.append(
        h_('td', 'num', r.oldNo === undefined ? '' : String(r.oldNo)),
        h_('td', 'num', r.newNo === undefined ? '' : String(r.newNo)),
        h_('td', 'mark', r.kind === ' ' ? '' : r.kind),
        codeCell(hunk, r.i, html, cls),
      );
      table.append(tr);
    }
    return table;
  }
  // Side by side: context on both sides; a run of removed lines faces the run of added lines after it.
  for (let k = 0; k < rows.length;) {
    const b = bar(rows[k].i);
    if (b) table.append(b);
    if (rows[k].kind === ' ') {
      const r = rows[k++];
      const tr = h_('tr', 'ctx');
      tr.append(
        h_('td', 'num', String(r.oldNo)),
        codeCell(hunk, r.i, html, 'ctx'),
        h_('td', 'num', String(r.newNo)),
        codeCell(hunk, r.i, html, 'ctx'),
      );
      table.append(tr);
      continue;
    }
    const del: Row[] = [];
    const add: Row[] = [];
    while (k < rows.length && rows[k].kind === '-') del.push(rows[k++]);
    while (k < rows.length && rows[k].kind === '+') add.push(rows[k++]);
    for (let j = 0; j < Math.max(del.length, add.length); j++) {
      const d = del[j];
      const a = add[j];
      const tr = h_('tr', 'change');
      tr.append(
        h_('td', 'num', d ? String(d.oldNo) : ''),
        codeCell(hunk, d?.i, html, d ? 'del' : 'empty'),
        h_('td', 'num', a ? String(a.newNo) : ''),
        codeCell(hunk, a?.i, html, a ? 'add' : 'empty'),
      );
      table.append(tr);
    }
  }
  return table;
}
