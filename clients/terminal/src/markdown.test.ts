import pc from 'picocolors';
import { stripVTControlCharacters as strip } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MarkdownLines } from './markdown.js';

const colored = pc.createColors(true);
const plain = pc.createColors(false);

describe('MarkdownLines', () => {
  it('renders inline markup with colors and drops the markers', () => {
    const md = new MarkdownLines(colored);
    const out = md.line('Use **bold**, *em*, `npm test` and [docs](https://x.dev) here');
    expect(out).toContain(colored.bold('bold'));
    expect(out).toContain(colored.italic('em'));
    expect(out).toContain(colored.cyan('npm test'));
    expect(strip(out)).toBe('Use bold, em, npm test and docs (https://x.dev) here');
  });

  it('gives plain text without escape codes when colors are off', () => {
    const md = new MarkdownLines(plain);
    const lines = ['# Title', '- item with `code`', '1. first', '> quoted', '---', 'a < b && c > d'].map((l) =>
      md.line(l),
    );
    expect(lines.join('\n')).not.toMatch(/\x1b\[/);
    expect(lines).toEqual(['Title', '• item with code', '1. first', '│ quoted', '─'.repeat(40), 'a < b && c > d']);
  });

  it('tracks fenced code blocks across lines and leaves their content alone', () => {
    const md = new MarkdownLines(plain);
    expect(md.line('```ts')).toContain('ts');
    expect(md.inCode).toBe(true);
    expect(md.line('const a = **not bold**;')).toBe('  │ const a = **not bold**;');
    expect(md.line('```')).toContain('└');
    expect(md.inCode).toBe(false);
    expect(md.line('**bold** again')).toBe('bold again');
  });

  it('highlights fenced code by its tag; an unknown tag keeps one color', () => {
    const md = new MarkdownLines(colored);
    md.line('```python');
    const line = md.line("def f(x): return 'hi'  # note");
    expect(line).toContain(colored.magenta('def'));
    expect(line).toContain(colored.green("'hi'"));
    expect(line).toContain(colored.gray('# note'));
    expect(strip(line)).toBe("  │ def f(x): return 'hi'  # note");
    md.line('```');
    md.line('```nosuchlang');
    expect(md.line('x = 1')).toContain(colored.yellow('x = 1'));
  });

  it('renders task list boxes and keeps indentation of nested bullets', () => {
    const md = new MarkdownLines(plain);
    expect(md.line('  - [x] done')).toBe('  • ☑ done');
    expect(md.line('- [ ] todo')).toBe('• ☐ todo');
  });

  it('does not treat a half-written line as broken markup', () => {
    const md = new MarkdownLines(plain);
    expect(md.line('an unfinished **bold')).toBe('an unfinished **bold');
  });

  it('collects a table until it ends, then aligns its columns (header, rule, alignment)', () => {
    const md = new MarkdownLines(plain);
    expect(md.push('| name | n |')).toEqual([]);
    expect(md.push('|---|--:|')).toEqual([]);
    expect(md.push('| `alpha` | 1 |')).toEqual([]);
    expect(md.push('| b | 100 |')).toEqual([]);
    expect(md.pending).toHaveLength(4);
    expect(md.push('after')).toEqual(['name  │   n', '──────┼────', 'alpha │   1', 'b     │ 100', 'after']);
    expect(md.pending).toHaveLength(0);
    // Colors: the header is bold, the cells keep their inline markup.
    const c = new MarkdownLines(colored);
    c.push('| **x** | y |');
    c.push('|---|---|');
    const out = c.flush();
    expect(out[0]).toBe(colored.bold(`${colored.bold('x')}${colored.dim(' │ ')}y`));
  });

  it('leaves pipe rows without a delimiter row, tables inside code and too-wide tables as written', () => {
    const md = new MarkdownLines(plain, () => 20);
    md.push('| a | b |');
    expect(md.push('| c | d |')).toEqual([]);
    expect(md.flush()).toEqual(['| a | b |', '| c | d |']);
    md.push('```');
    expect(md.push('| x | y |')).toEqual(['  │ | x | y |']);
    md.push('```');
    md.push('| a very long header cell | another long one |');
    md.push('|---|---|');
    expect(md.flush()).toEqual(['| a very long header cell | another long one |', '|---|---|']);
  });
});
