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
    const lines = ['# Title', '- item with `code`', '1. first', '> quoted', '---', 'a < b && c > d'].map((l) => md.line(l));
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

  it('renders task list boxes and keeps indentation of nested bullets', () => {
    const md = new MarkdownLines(plain);
    expect(md.line('  - [x] done')).toBe('  • ☑ done');
    expect(md.line('- [ ] todo')).toBe('• ☐ todo');
  });

  it('does not treat a half-written line as broken markup', () => {
    const md = new MarkdownLines(plain);
    expect(md.line('an unfinished **bold')).toBe('an unfinished **bold');
  });
});
