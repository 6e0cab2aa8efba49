import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import css from 'highlight.js/lib/languages/css';
import go from 'highlight.js/lib/languages/go';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import type { Colors } from './io.js';

// highlight.js core with the languages agents write most; the same set as the web page.
for (const [name, lang] of Object.entries({
  bash,
  c,
  css,
  go,
  javascript,
  json,
  markdown,
  python,
  rust,
  sql,
  typescript,
  xml,
  yaml,
}))
  hljs.registerLanguage(name, lang);

const EXTENSIONS: Record<string, string> = {
  ts: 'typescript',
  tsx: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  js: 'javascript',
  jsx: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  py: 'python',
  json: 'json',
  sh: 'bash',
  bash: 'bash',
  css: 'css',
  html: 'xml',
  xml: 'xml',
  svg: 'xml',
  md: 'markdown',
  yml: 'yaml',
  yaml: 'yaml',
  go: 'go',
  rs: 'rust',
  c: 'c',
  h: 'c',
  sql: 'sql',
};

/** The language of a file path or a code fence's tag (`py`, `python`, `ts`…), or undefined. */
export function languageFor(pathOrTag: string | undefined): string | undefined {
  if (!pathOrTag) return undefined;
  const tag = pathOrTag.toLowerCase();
  if (hljs.getLanguage(tag)) return tag;
  const ext = /\.([a-z0-9]+)$/.exec(tag)?.[1];
  return EXTENSIONS[ext ?? tag];
}

/**
 * Text longer than this is not syntax-colored: highlight.js's TypeScript grammar costs ~50–100 µs a line on
 * the shared dev machine (bench/terminal.mjs), so a 2000-line generated hunk would hold /review for a
 * fraction of a second; 20,000 characters (~250 lines) stays within a few tens of ms.
 */
export const HIGHLIGHT_MAX_CHARS = 20_000;

/** A run of text and the highlight.js class of its innermost token (none for plain text). */
export interface Segment {
  text: string;
  cls?: string;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#x27': "'", '#39': "'" };

/**
 * Source → lines of segments. highlight.js renders HTML: only `<span class="hljs-…">`, `</span>` and the five
 * escaped characters, so reading it back is a small scanner over that fixed output (its token tree has no
 * public API). Tokens spanning lines (block comments, strings) keep their class on every line.
 */
export function segments(code: string, lang: string | undefined): Segment[][] {
  const lines: Segment[][] = [[]];
  if (!lang || !hljs.getLanguage(lang) || code.length > HIGHLIGHT_MAX_CHARS) {
    return code.split('\n').map((l) => (l ? [{ text: l }] : []));
  }
  const html = hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
  const stack: string[] = [];
  const push = (text: string) => {
    const parts = text.split('\n');
    parts.forEach((p, i) => {
      if (i > 0) lines.push([]);
      const cls = stack.at(-1);
      const line = lines[lines.length - 1];
      const last = line.at(-1);
      // Escaped characters arrive apart from their neighbours: one run per class.
      if (p && last && last.cls === cls) last.text += p;
      else if (p) line.push(cls ? { text: p, cls } : { text: p });
    });
  };
  const re = /<span class="([^"]*)">|<\/span>|&(amp|lt|gt|quot|#x27|#39);|[^<&]+|[<&]/g;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    if (m[1] !== undefined) stack.push(m[1].split(' ')[0].replace(/^hljs-/, ''));
    else if (m[0] === '</span>') stack.pop();
    else if (m[2] !== undefined) push(ENTITIES[m[2]]);
    else push(m[0]);
  }
  return lines;
}

/** The color of a highlight.js class in a terminal (picocolors' basic colors only: they work everywhere). */
function colorOf(cls: string | undefined, c: Colors): (s: string) => string {
  switch (cls) {
    case 'keyword':
    case 'selector-tag':
    case 'doctag':
      return c.magenta;
    case 'string':
    case 'regexp':
    case 'template-tag':
    case 'addition':
      return c.green;
    case 'number':
    case 'literal':
    case 'symbol':
    case 'bullet':
      return c.yellow;
    case 'comment':
    case 'quote':
    case 'meta':
      return c.gray;
    case 'title':
    case 'function':
    case 'section':
    case 'tag':
    case 'name':
      return c.blue;
    case 'built_in':
    case 'type':
    case 'attr':
    case 'attribute':
    case 'property':
    case 'selector-class':
      return c.cyan;
    case 'deletion':
      return c.red;
    default:
      return (s) => s;
  }
}

/**
 * Renders one line of segments; `marks` are character ranges to emphasize (the changed words of a diff
 * line) — they are cut into the segments, so syntax colors and word marks combine.
 */
export function renderSegments(line: Segment[], c: Colors, marks: Array<[number, number]> = []): string {
  let out = '';
  let at = 0;
  for (const seg of line) {
    const color = colorOf(seg.cls, c);
    let i = 0;
    while (i < seg.text.length) {
      const pos = at + i;
      const mark = marks.find(([a, b]) => pos >= a && pos < b);
      const next = Math.min(
        seg.text.length,
        ...marks
          .flatMap(([a, b]) => [a, b])
          .filter((x) => x > pos)
          .map((x) => x - at),
      );
      const piece = seg.text.slice(i, next);
      out += mark ? c.inverse(c.bold(color(piece))) : color(piece);
      i = next;
    }
    at += seg.text.length;
  }
  return out;
}

/** Code → highlighted terminal lines (plain lines when colors are off or the language is unknown). */
export function highlightLines(code: string, lang: string | undefined, c: Colors): string[] {
  if (!c.isColorSupported) return code.split('\n');
  return segments(code, lang).map((l) => renderSegments(l, c));
}
