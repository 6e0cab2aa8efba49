import DOMPurify from 'dompurify';
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

// highlight.js core with the languages agents write most (the terminal uses the same set): ~+40 KiB gzip
// where the full build would be ~300 KiB. Unknown languages are shown plain.
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

/**
 * Longer text is shown plain: highlight.js's TypeScript grammar costs ~50–100 µs a line (measured in Node on
 * the dev machine, bench/terminal.mjs), so a 2000-line generated hunk would stall the page; the terminal
 * uses the same limit.
 */
export const HIGHLIGHT_MAX_CHARS = 20_000;

/** The language of a file path or a code fence's tag, or undefined. */
export function languageFor(pathOrTag: string | undefined): string | undefined {
  if (!pathOrTag) return undefined;
  const tag = pathOrTag.toLowerCase();
  if (hljs.getLanguage(tag)) return tag;
  const ext = /\.([a-z0-9]+)$/.exec(tag)?.[1];
  return EXTENSIONS[ext ?? tag];
}

/**
 * Code → highlighted HTML for innerHTML, or null for an unknown language (show it as text). highlight.js
 * escapes the code itself; DOMPurify then keeps only its `<span class>` markup, so even a bug there cannot
 * let model output become live HTML.
 */
export function highlightHtml(code: string, lang: string | undefined): string | null {
  if (!lang || !hljs.getLanguage(lang) || code.length > HIGHLIGHT_MAX_CHARS) return null;
  const html = hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
  return DOMPurify.sanitize(html, { ALLOWED_TAGS: ['span'], ALLOWED_ATTR: ['class'] });
}

/**
 * Highlights a text whole and returns its lines as HTML, each with its open spans closed and reopened, so a
 * comment or string spanning lines keeps its color on every line (diff rows are one element per line).
 */
export function highlightLines(code: string, lang: string | undefined): string[] | null {
  const html = highlightHtml(code, lang);
  if (html === null) return null;
  const out: string[] = [];
  const open: string[] = [];
  let line = '';
  for (const m of html.matchAll(/<span class="[^"]*">|<\/span>|\n|[^<\n]+|</g)) {
    const t = m[0];
    if (t === '\n') {
      out.push(line + '</span>'.repeat(open.length));
      line = open.join('');
    } else {
      if (t.startsWith('<span')) open.push(t);
      else if (t === '</span>') open.pop();
      line += t;
    }
  }
  out.push(line + '</span>'.repeat(open.length));
  return out;
}
