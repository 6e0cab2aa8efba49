import pc from 'picocolors';
import { hunkLines, renderDiff } from './diff-format.js';
import { HIGHLIGHT_MAX_CHARS } from './highlight.js';
import { stripVTControlCharacters as strip } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  usageLine,
  argumentLines,
  foldLines,
  formatDuration,
  parsePermissionAnswer,
  permissionBlock,
  renderAccept,
  renderAudit,
  summarizeInput,
  toolDoneLine,
} from './format.js';

const colored = pc.createColors(true);
const plain = pc.createColors(false);

const diff = {
  sessionId: 's1',
  files: [
    {
      path: 'src/a.ts',
      change: 'modified' as const,
      binary: false,
      stale: true,
      patch: '',
      hunks: [
        {
          id: 'src/a.ts#1f2e3d',
          header: '@@ -1,2 +1,2 @@',
          oldStart: 1,
          oldLines: 2,
          newStart: 1,
          newLines: 2,
          lines: [' keep', '-old line', '+new line'],
        },
        {
          id: 'src/a.ts#9a8b7c',
          header: '@@ -10,1 +10,2 @@',
          oldStart: 10,
          oldLines: 1,
          newStart: 10,
          newLines: 2,
          lines: [' x', '+y'],
        },
      ],
    },
  ],
};

describe('format', () => {
  it('formats durations for tool lines', () => {
    expect(formatDuration(42.4)).toBe('42 ms');
    expect(formatDuration(1234)).toBe('1.2 s');
    expect(formatDuration(125_000)).toBe('2 m 05 s');
  });

  it('folds long output to the first lines and counts the rest', () => {
    const text = Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join('\n');
    expect(foldLines(text, 3, plain)).toEqual(['  │ line 1', '  │ line 2', '  │ line 3', '  │ … 7 more lines']);
    expect(foldLines('one\n', 3, plain)).toEqual(['  │ one']);
    expect(foldLines('     1\tconst a = 1;\n', 3, plain)).toEqual(['  │      1  const a = 1;']);
    expect(foldLines('  \n', 3, plain)).toEqual([]);
  });

  it('renders the diff per file and hunk with ids, stale marks, and red/green lines', () => {
    const out = renderDiff(diff, null, colored);
    const text = out.join('\n');
    // The paired -/+ lines (src/a.ts is TypeScript): the marker in its color, the changed word inverse and bold.
    expect(text).toContain(`${colored.bold(colored.red('-'))}${colored.inverse(colored.bold('old'))} line`);
    // `new` is a TypeScript keyword: its syntax color stays inside the word mark.
    expect(text).toContain(
      `${colored.bold(colored.green('+'))}${colored.inverse(colored.bold(colored.magenta('new')))} line`,
    );
    expect(text).toContain(`${colored.bold(colored.green('+'))}y`); // unpaired: nothing marked
    const flat = strip(text);
    expect(flat).toContain('M src/a.ts');
    expect(flat).toContain('stale');
    expect(flat).toContain('[src/a.ts#1f2e3d]');
    expect(flat).toContain('[src/a.ts#9a8b7c]');
    expect(flat).not.toContain('src/a.ts#1)'); // positional addresses are refused by the daemon, never offered
    expect(flat.indexOf('#1f2e3d')).toBeLessThan(flat.indexOf('-old line'));
    expect(renderDiff(diff, null, plain).join('\n')).not.toMatch(/\x1b\[/);
    expect(renderDiff({ sessionId: 's', files: [] }, null, plain)).toEqual([
      'nothing to review: the shadow workspace has no pending changes',
    ]);
  });

  it('shows the removal of a symlink with its target (accept removes the link, never what it points to)', () => {
    const out = renderDiff(
      {
        sessionId: 's',
        files: [
          {
            path: 'vendor/shared',
            change: 'deleted',
            binary: false,
            stale: false,
            symlink: '/elsewhere/dir',
            patch: 'deleted vendor/shared (symlink → /elsewhere/dir)\n',
            hunks: [],
          },
        ],
      },
      null,
      plain,
    );
    expect(out.join('\n')).toContain('D vendor/shared (symlink → /elsewhere/dir)');
  });

  it('highlights the changed words of paired removed and added lines, and only those', () => {
    const inv = /\x1b\[7m(.*?)\x1b\[27m/g;
    const marked = (l: string) => [...l.matchAll(inv)].map((m) => strip(m[1]));
    const out = hunkLines(
      [
        ' ctx',
        '-const limit = 10;',
        '-return a;',
        '\\ No newline at end of file',
        '+const limit = 20;',
        '+return a + b;',
        '+extra()',
        ' end',
      ],
      colored,
    );
    expect(out.map(strip)).toEqual([
      ' ctx',
      '-const limit = 10;',
      '-return a;',
      '\\ No newline at end of file',
      '+const limit = 20;',
      '+return a + b;',
      '+extra()',
      ' end',
    ]);
    expect(marked(out[1])).toEqual(['10']);
    expect(marked(out[4])).toEqual(['20']);
    // Without a language the content keeps its side's color; only the changed word is inverse.
    const red = colored.red;
    expect(out[1]).toBe(
      `${colored.bold(red('-'))}${red('const limit = ')}${colored.inverse(colored.bold(red('10')))}${red(';')}`,
    );
    expect(marked(out[2])).toEqual([]); // "return a;" → "return a + b;": only additions, nothing removed
    expect(marked(out[5]).join('')).toBe(' + b');
    expect(out[6]).toBe(`${colored.bold(colored.green('+'))}${colored.green('extra()')}`); // no partner
    expect(out[0]).toBe(' ctx');
    // A rewritten line shares nothing worth marking.
    expect(hunkLines(['-alpha beta', '+gamma delta'], colored).map((l) => marked(l))).toEqual([[], []]);
    // Too many separate edits (jsdiff's maxEditLength gives up early): nothing marked, however much is shared.
    const many = [
      '-' + Array.from({ length: 60 }, (_, i) => `w${i}`).join(' '),
      '+' + Array.from({ length: 60 }, (_, i) => (i % 2 ? `w${i}` : `v${i}`)).join(' '),
    ];
    expect(hunkLines(many, colored).map((l) => marked(l))).toEqual([[], []]);
    // A whitespace-only change is made visible (jsdiff compares the whole run of spaces).
    const indent = hunkLines(['-  x = 1', '+    x = 1'], colored);
    expect([marked(indent[0]), marked(indent[1])]).toEqual([['  '], ['    ']]);
    // No colors (a pipe, NO_COLOR): the lines exactly as they came, no escapes.
    const lines = ['-const limit = 10;', '+const limit = 20;'];
    expect(hunkLines(lines, plain)).toEqual(lines);
    expect(hunkLines(lines, plain).join('')).not.toMatch(/\x1b\[/);
  });

  it("highlights code in diffs by the file's language, each side as one text, word marks on top", () => {
    const out = hunkLines(
      [' /* a comment', '   over two lines */', "-const name = 'old';", "+const name = 'new';"],
      colored,
      'typescript',
    );
    expect(out.map(strip)).toEqual([
      ' /* a comment',
      '   over two lines */',
      "-const name = 'old';",
      "+const name = 'new';",
    ]);
    // The comment's second line is still a comment (the side is highlighted whole, not line by line).
    expect(out[1]).toBe(` ${colored.gray('  over two lines */')}`);
    expect(out[2]).toContain(colored.magenta('const'));
    // The string is green; its changed word is marked inverse over that color.
    expect(out[3]).toContain(colored.inverse(colored.bold(colored.green('new'))));
    expect(out[3].startsWith(colored.bold(colored.green('+')))).toBe(true);
  });

  it('/review highlights hunks within its budget and says how many it left without syntax colors', () => {
    // Eight hunks of ~18k characters: 5 fit the 100k budget, the other three are colored by prefix only.
    const lines = Array.from({ length: 400 }, (_, i) => `+const v${i} = compute(${i}); // a line of code`);
    const hunk = (k: number) => ({ ...diff.files[0].hunks[0], id: `src/a.ts#${k}`, lines });
    const big = { sessionId: 's', files: [{ ...diff.files[0], hunks: Array.from({ length: 8 }, (_, k) => hunk(k)) }] };
    const out = renderDiff(big, null, colored);
    expect(strip(out.join('\n'))).toContain(
      '(3 hunks without syntax colors: a hunk over 20k characters, or past the first 100k of the review)',
    );
    const keywordsAt = out.flatMap((l, i) => (l.includes(colored.magenta('const')) ? [i] : []));
    expect(keywordsAt.length).toBe(5 * 400);
    // Small reviews and plain output say nothing of it.
    expect(renderDiff(diff, null, colored).join('\n')).not.toContain('without syntax colors');
    expect(renderDiff(big, null, plain).join('\n')).not.toContain('without syntax colors');
  });

  it('a hunk over HIGHLIGHT_MAX_CHARS keeps its +/- colors and word marks but is not syntax-colored', () => {
    const pair = (i: number) => [`-const v${i} = compute('old ${i}');`, `+const v${i} = compute('new ${i}');`];
    const small = hunkLines(pair(1), colored, 'typescript');
    expect(small[0]).toContain(colored.magenta('const'));
    const big = Array.from({ length: 700 }, (_, i) => pair(i)).flat();
    expect(big.join('').length).toBeGreaterThan(HIGHLIGHT_MAX_CHARS);
    const out = hunkLines(big, colored, 'typescript');
    expect(out.map(strip)).toEqual(big);
    expect(out.join('')).not.toContain(colored.magenta('const'));
    expect(out[1]).toContain(colored.green("const v0 = compute('"));
    expect(out[1]).toContain(colored.inverse(colored.bold(colored.green('new'))));
  });

  it('shows the permission question with tool, arguments, rule and the keys', () => {
    const q = {
      sessionId: 's',
      requestId: 'r',
      callId: 'c',
      tool: 'bash',
      kind: 'execute' as const,
      summary: 'run npm test',
      input: { command: 'npm test', cwd: '.' },
      rule: 'mode:review kind:execute',
      options: ['allow_once' as const, 'allow_session' as const, 'allow_project' as const, 'deny' as const],
    };
    const flat = permissionBlock(q, plain).join('\n');
    expect(flat).toContain('bash');
    expect(flat).toContain('    command: npm test');
    expect(flat).toContain('asked by rule: mode:review kind:execute');
    expect(flat).toContain('[y] allow once  [s] allow for this session  [p] always allow for this project  [n] deny');
    const limited = permissionBlock({ ...q, options: ['allow_once', 'deny'] }, plain).join('\n');
    expect(limited).not.toContain('[p]');
  });

  it('shows file content and code as lines, and an edit as removed and added lines', () => {
    const content = Array.from({ length: 20 }, (_, i) => `row ${i + 1}`).join('\n') + '\n';
    expect(argumentLines({ path: 'a.txt', content }, plain)).toEqual([
      '    path: a.txt',
      '    content: (20 lines, 131 chars)',
      ...Array.from({ length: 12 }, (_, i) => `      │ row ${i + 1}`),
      '      … 8 more lines',
    ]);
    expect(
      argumentLines(
        { path: 'a.ts', old_string: 'const a = 1;\nconst b = 2;', new_string: 'const a = 3;', replace_all: false },
        plain,
      ),
    ).toEqual([
      '    path: a.ts',
      '    replace_all: false',
      '    change:',
      '      -const a = 1;',
      '      -const b = 2;',
      '      +const a = 3;',
    ]);
    const colored_ = argumentLines({ path: 'a.ts', old_string: 'x', new_string: 'y' }, colored);
    expect(colored_).toContain(`      ${colored.red('-x')}`);
    expect(colored_).toContain(`      ${colored.green('+y')}`);
    expect(argumentLines(['a', 1], plain)).toEqual(['    [', '      "a",', '      1', '    ]']);
  });

  it('parses answers by key, name or word, and only offered options', () => {
    const all = ['allow_once', 'allow_session', 'allow_project', 'deny'];
    expect(parsePermissionAnswer('y', all)).toBe('allow_once');
    expect(parsePermissionAnswer('S', all)).toBe('allow_session');
    expect(parsePermissionAnswer('always', all)).toBe('allow_project');
    expect(parsePermissionAnswer('allow_project', ['allow_once', 'deny'])).toBeNull();
    expect(parsePermissionAnswer('maybe', all)).toBeNull();
    expect(parsePermissionAnswer('n', all)).toBe('deny');
  });

  it('reports accepted files and shows conflicts with their markers', () => {
    const out = renderAccept(
      {
        acceptId: 'acc1',
        applied: [{ path: 'b.ts', action: 'written' }],
        conflicts: [
          { path: 'a.ts', hunks: ['a.ts#1'], conflictText: '<<<<<<< yours\nmine\n=======\ntheirs\n>>>>>>> agent\n' },
        ],
      },
      plain,
    );
    const flat = out.join('\n');
    expect(flat).toContain('✓ written b.ts');
    expect(flat).toContain('✗ conflict a.ts (a.ts#1)');
    expect(flat).toContain('  <<<<<<< yours');
    expect(flat).toContain('/undo');
    expect(renderAccept({ acceptId: null, applied: [], conflicts: [] }, plain)).toEqual([
      'nothing accepted (no pending change matched)',
    ]);
  });

  it('summarizes tool input and tool outcomes in one line', () => {
    expect(summarizeInput({ path: 'a.ts', limit: 3 })).toBe('path="a.ts" limit=3');
    expect(summarizeInput({ text: 'x'.repeat(500) }).length).toBeLessThanOrEqual(160);
    const done = toolDoneLine(
      { tool: 'bash', kind: 'execute', summary: 'npm test' },
      { status: 'failed', durationMs: 1500, code: 1, reason: 'exit_code' },
      plain,
    );
    expect(done).toBe('✗ execute bash npm test · 1.5 s · exit 1 exit_code');
    const denied = toolDoneLine(
      { tool: 'fetch', kind: 'fetch', summary: 'x.dev' },
      { status: 'failed', decision: { action: 'deny', rule: 'project:deny host=x.dev' } },
      plain,
    );
    expect(denied).toContain('denied (project:deny host=x.dev)');
    // Ctrl-C during the question: the call was cancelled, not denied, and the daemon's error code is no exit code.
    const cancelled = toolDoneLine(
      { tool: 'write_file', kind: 'edit', summary: 'a.ts' },
      {
        status: 'failed',
        durationMs: 120,
        code: -32800,
        reason: 'cancelled',
        decision: { action: 'deny', rule: 'project:ask tool=write_file' },
      },
      plain,
    );
    expect(cancelled).toBe('✗ edit    write_file a.ts · 120 ms cancelled');
    const timedOut = toolDoneLine(
      { tool: 'write_file', kind: 'edit', summary: 'a.ts' },
      {
        status: 'failed',
        code: -33302,
        reason: 'permission_timeout',
        decision: { action: 'deny', rule: 'mode:review kind:edit' },
      },
      plain,
    );
    expect(timedOut).toBe('✗ edit    write_file a.ts no answer in time, not run (mode:review kind:edit)');
  });

  it('lists audit entries through the protocol summary: what happened to what', () => {
    const entry = (seq: number, type: string, data: Record<string, unknown>) => ({
      seq,
      time: `2026-01-01T10:11:1${seq}.000Z`,
      type,
      sessionId: 's',
      data,
      prevHash: 'a',
      hash: 'b',
    });
    expect(
      renderAudit(
        [
          entry(3, 'tool.call', {
            tool: 'grep',
            decision: { action: 'allow', rule: 'mode:review kind:search' },
            outcome: 'ok',
          }),
          entry(4, 'prompt', { preview: 'fix the build', chars: 13 }),
          entry(5, 'shadow.accept', {
            acceptId: 'acc-1',
            files: [{ path: 'a.ts', action: 'written' }],
            conflicts: ['b.ts'],
          }),
          entry(6, 'shadow.reject', { rejected: ['c.ts', 'd.ts#1a2b'] }),
        ],
        plain,
      ),
    ).toEqual([
      '#3 10:11:13 tool.call tool grep · allow (mode:review kind:search) · ok',
      '#4 10:11:14 prompt prompt · "fix the build" · 13 chars',
      '#5 10:11:15 shadow.accept accepted 1 file · a.ts (written) · conflicts: b.ts · acc-1',
      '#6 10:11:16 shadow.reject rejected 2 changes · c.ts, d.ts#1a2b',
    ]);
  });
});

describe('usageLine', () => {
  it('groups thousands with commas, as en-US does, without ICU', () => {
    expect(usageLine({ input: 1234567, output: 999, cached: 1000, cost: 0.0038 })).toBe(
      '1,234,567 tokens in (1,000 cached) / 999 out · $0.0038',
    );
    expect(usageLine({ input: 0, output: 12345, cached: 0, cost: undefined })).toBe('0 tokens in / 12,345 out');
  });
});
