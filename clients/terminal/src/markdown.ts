import { stripVTControlCharacters } from 'node:util';
import { Lexer, type Token } from 'marked';
import { languageFor, renderSegments, segments } from './highlight.js';
import type { Colors } from './io.js';

/**
 * Renders assistant markdown one complete line at a time, so text can be shown while it streams:
 * block structure (headings, lists, quotes, rules, fenced code) is decided per line, inline markup
 * (bold, italic, code, links, strikethrough) comes from marked's inline lexer. Plain colors give
 * plain text with the markup characters removed only where that loses nothing.
 */
export class MarkdownLines {
  private fence: string | null = null;
  /** The fenced block's language (its tag), for syntax colors. */
  private lang: string | undefined;
  private table: string[] = [];

  constructor(
    private readonly c: Colors,
    private readonly width: () => number = () => 100,
  ) {}

  /** Table rows received but not rendered yet (a table is aligned once its last row is known). */
  get pending(): readonly string[] {
    return this.table;
  }

  /**
   * One complete source line → the display lines that are ready: usually one; none while a table is
   * being collected; the aligned table (then this line) when the table ends.
   */
  push(src: string): string[] {
    if (this.fence === null && /^\s*\|.*\|\s*$/.test(src)) {
      this.table.push(src);
      return [];
    }
    return [...this.flush(), this.line(src)];
  }

  /** Renders whatever is still collected (the message ended). */
  flush(): string[] {
    if (!this.table.length) return [];
    const rows = this.table;
    this.table = [];
    return this.renderTable(rows);
  }

  /** True inside a fenced code block (the next line is code). */
  get inCode(): boolean {
    return this.fence !== null;
  }

  /** Forget block state (a new message starts). */
  reset(): void {
    this.fence = null;
    this.lang = undefined;
    this.table = [];
  }

  /** A GFM table with aligned columns (header bold, a rule under it); rows as written when it has no delimiter row or is too wide. */
  private renderTable(rows: string[]): string[] {
    const c = this.c;
    const split = (r: string) =>
      r
        .trim()
        .replace(/^\|/, '')
        .replace(/(?<!\\)\|$/, '')
        .split(/(?<!\\)\|/)
        .map((x) => x.trim().replace(/\\\|/g, '|'));
    const delimiter = rows.length >= 2 && split(rows[1]).every((x) => /^:?-+:?$/.test(x));
    if (!delimiter) return rows.map((r) => this.inline(r));
    const aligns = split(rows[1]).map((a) => (a.endsWith(':') ? (a.startsWith(':') ? 'center' : 'right') : 'left'));
    const cells = [split(rows[0]), ...rows.slice(2).map(split)].map((r) => r.map((x) => this.inline(x)));
    const n = Math.max(...cells.map((r) => r.length));
    const widths = Array.from({ length: n }, (_, i) => Math.max(1, ...cells.map((r) => visibleWidth(r[i] ?? ''))));
    if (widths.reduce((a, b) => a + b, 0) + 3 * (n - 1) > this.width()) return rows.map((r) => this.inline(r));
    const pad = (s: string, i: number) => {
      const gap = widths[i] - visibleWidth(s);
      if (aligns[i] === 'right') return ' '.repeat(gap) + s;
      if (aligns[i] === 'center') return ' '.repeat(Math.floor(gap / 2)) + s + ' '.repeat(Math.ceil(gap / 2));
      return s + ' '.repeat(gap);
    };
    const row = (r: string[]) =>
      widths
        .map((_, i) => pad(r[i] ?? '', i))
        .join(c.dim(' │ '))
        .trimEnd();
    return [c.bold(row(cells[0])), c.dim(widths.map((w) => '─'.repeat(w)).join('─┼─')), ...cells.slice(1).map(row)];
  }

  /** One source line (without its newline) → one display line. */
  line(src: string): string {
    const c = this.c;
    const fence = /^\s*(```+|~~~+)\s*([\w+-]*)/.exec(src);
    if (this.fence !== null) {
      if (fence && fence[1].startsWith(this.fence[0]) && fence[1].length >= this.fence.length && !fence[2]) {
        this.fence = null;
        return c.dim('  └────');
      }
      // Streamed line by line, so each line is highlighted alone (a multi-line string may lose its color).
      const code =
        this.lang && c.isColorSupported ? renderSegments(segments(src, this.lang)[0] ?? [], c) : c.yellow(src);
      return `  ${c.dim('│')} ${code}`;
    }
    if (fence) {
      this.fence = fence[1];
      this.lang = languageFor(fence[2]);
      return c.dim(`  ┌──── ${fence[2] || 'code'}`);
    }
    const heading = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(src);
    if (heading) {
      const text = this.inline(heading[2]);
      return heading[1].length <= 2 ? c.bold(c.underline(text)) : c.bold(text);
    }
    if (/^\s{0,3}([-*_])(\s*\1){2,}\s*$/.test(src)) return c.dim('─'.repeat(40));
    const quote = /^(\s*)>\s?(.*)$/.exec(src);
    if (quote) return `${quote[1]}${c.dim('│')} ${c.italic(this.inline(quote[2]))}`;
    const bullet = /^(\s*)[-*+]\s+(\[[ xX]\]\s+)?(.*)$/.exec(src);
    if (bullet) {
      const box = bullet[2] ? (bullet[2].trim().toLowerCase() === '[x]' ? c.green('☑ ') : '☐ ') : '';
      return `${bullet[1]}${c.cyan('•')} ${box}${this.inline(bullet[3])}`;
    }
    const numbered = /^(\s*)(\d+[.)])\s+(.*)$/.exec(src);
    if (numbered) return `${numbered[1]}${c.cyan(numbered[2])} ${this.inline(numbered[3])}`;
    return this.inline(src);
  }

  /** Inline markup of one line. */
  inline(src: string): string {
    if (!src) return src;
    let tokens: Token[];
    try {
      tokens = Lexer.lexInline(src, { gfm: true });
    } catch {
      return src;
    }
    return this.tokens(tokens);
  }

  private tokens(tokens: Token[]): string {
    return tokens.map((t) => this.token(t)).join('');
  }

  private token(t: Token): string {
    const c = this.c;
    const inner = () =>
      'tokens' in t && Array.isArray(t.tokens) ? this.tokens(t.tokens) : 'text' in t ? String(t.text) : t.raw;
    switch (t.type) {
      case 'strong':
        return c.bold(inner());
      case 'em':
        return c.italic(inner());
      case 'del':
        return c.strikethrough(inner());
      case 'codespan':
        return c.cyan(unescapeHtml(String(t.text)));
      case 'link': {
        const label = inner();
        const href = String(t.href);
        return label === href || `mailto:${label}` === href
          ? c.underline(c.blue(label))
          : `${c.underline(c.blue(label))}${c.dim(` (${href})`)}`;
      }
      case 'image':
        return c.dim(`[image: ${String(t.text) || String(t.href)}]`);
      case 'br':
        return ' ';
      case 'escape':
      case 'text':
        return 'tokens' in t && Array.isArray(t.tokens) && t.tokens.length
          ? this.tokens(t.tokens)
          : unescapeHtml(String(t.text));
      default:
        return t.raw;
    }
  }
}

/** marked escapes &, <, > in text tokens; a terminal wants them back. */
function unescapeHtml(s: string): string {
  return s.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e] ?? _,
  );
}

/** Columns a rendered string takes (code points without escape codes). */
function visibleWidth(s: string): number {
  return [...stripVTControlCharacters(s)].length;
}
