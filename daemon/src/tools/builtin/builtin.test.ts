import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../errors.js';
import { createOverlayView } from '../../wasi/test-support.js';
import { createBuiltinTools, createToolRuntime } from '../index.js';
import { fakePolicy, memoryAudit, memoryLogger, sessionContext } from '../test-support.js';

let root: string;
let outside: string;
let view: ReturnType<typeof createOverlayView>;
let call: (
  name: string,
  input: unknown,
) => ReturnType<ReturnType<ReturnType<typeof createToolRuntime>['forSession']>['call']>;

const put = (rel: string, content: string | Buffer) => {
  mkdirSync(join(root, rel, '..'), { recursive: true });
  writeFileSync(join(root, rel), content);
};
const overlayText = (rel: string) => {
  const v = view.overlay.get(rel);
  return v ? Buffer.from(v).toString('utf8') : v;
};

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sbx-builtin-'));
  outside = mkdtempSync(join(tmpdir(), 'sbx-outside-'));
  writeFileSync(join(outside, 'secret.txt'), 'top secret\n');
  put('README.md', '# Demo\nHello world\n');
  put('src/main.ts', 'import { helper } from "./util.js";\nfunction main() {\n  return helper(1);\n}\n');
  put('src/util.ts', 'export function helper(x: number) {\n  return x + 1; // TODO tidy\n}\n');
  put('src/deep/nested/x.ts', 'export const x = "todo";\n');
  put('logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0, 0x49, 0x48, 0x44, 0x52]));
  put('.gitignore', 'dist/\n*.log\n');
  put('dist/bundle.js', 'function main() { /* TODO built */ }\n');
  put('debug.log', 'TODO in a log\n');
  put('.git/config', '[core]\n\tTODO = git internals\n');
  symlinkSync(join(outside, 'secret.txt'), join(root, 'leak.txt'));
  symlinkSync(outside, join(root, 'outdir'));
  view = createOverlayView(root);
  const runtime = createToolRuntime({
    tools: createBuiltinTools(),
    policy: fakePolicy().policy,
    audit: memoryAudit(),
    logger: memoryLogger(),
  });
  const agent = runtime.forSession(sessionContext(view).ctx);
  let n = 0;
  call = (name, input) =>
    agent.call({ turnId: 't', callId: `c${++n}`, name, input, signal: new AbortController().signal });
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('read_file', () => {
  it('shows numbered lines, a range, and how to read on', async () => {
    const all = await call('read_file', { path: 'src/main.ts' });
    expect(all.isError).toBe(false);
    expect(all.content.split('\n')[0]).toBe('     1\timport { helper } from "./util.js";');
    expect(all.content.split('\n')).toHaveLength(4);
    const part = await call('read_file', { path: 'src/main.ts', offset: 2, limit: 2 });
    expect(part.content).toBe(
      '     2\tfunction main() {\n     3\t  return helper(1);\n[lines 2-3 of 4; call read_file with offset 4 to read on]',
    );
    expect((await call('read_file', { path: 'src/main.ts', offset: 9 })).content).toContain(
      'has 4 lines; offset 9 is past the end',
    );
  });

  it('refuses binaries, directories and missing files with codes', async () => {
    expect(await call('read_file', { path: 'logo.png' })).toMatchObject({
      isError: true,
      code: ErrorCodes.NotAFile,
      reason: 'binary_file',
    });
    expect(await call('read_file', { path: 'src' })).toMatchObject({
      isError: true,
      code: ErrorCodes.NotAFile,
      reason: 'is_directory',
    });
    const missing = await call('read_file', { path: 'nope.ts' });
    expect(missing).toMatchObject({ isError: true, code: ErrorCodes.FileNotFound, reason: 'not_found' });
    expect(missing.content).toContain('Use list_dir or glob');
  });

  it('reads the pending (overlay) version of a file', async () => {
    await call('write_file', { path: 'README.md', content: 'changed\n' });
    expect((await call('read_file', { path: 'README.md' })).content).toBe('     1\tchanged');
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toBe('# Demo\nHello world\n');
  });

  it.each([
    ['../../etc/passwd', ErrorCodes.PathOutsideWorkspace],
    ['/etc/passwd', ErrorCodes.PathOutsideWorkspace],
    ['leak.txt', ErrorCodes.PathOutsideWorkspace],
    ['outdir/secret.txt', ErrorCodes.PathOutsideWorkspace],
  ])('refuses the escape %s', async (path, code) => {
    const r = await call('read_file', { path });
    expect(r).toMatchObject({ isError: true, code });
    expect(r.content).not.toContain('top secret');
  });
});

describe('symlink loops', () => {
  it('refuse to read and do not trap the walkers', async () => {
    symlinkSync(join(root, 'loop-a'), join(root, 'loop-b'));
    symlinkSync(join(root, 'loop-b'), join(root, 'loop-a'));
    symlinkSync(join(root, 'src'), join(root, 'src', 'deep', 'back'));
    expect((await call('read_file', { path: 'loop-a' })).isError).toBe(true);
    expect((await call('grep', { pattern: 'helper' })).content.split('\n')).toHaveLength(3);
    expect((await call('glob', { pattern: '**/*.ts' })).content.split('\n')).toHaveLength(3);
  });
});

describe('list_dir', () => {
  it('lists one level with sizes, or a tree that skips .git and ignored dirs', async () => {
    const top = await call('list_dir', {});
    expect(top.content.split('\n')).toEqual([
      './',
      '  .git/ (ignored)',
      '  .gitignore (12 bytes)',
      '  README.md (19 bytes)',
      '  debug.log (14 bytes)',
      '  dist/ (ignored)',
      '  leak.txt -> (symlink)',
      '  logo.png (12 bytes)',
      '  outdir -> (symlink)',
      '  src/',
    ]);
    const tree = await call('list_dir', { path: 'src', depth: 3 });
    expect(tree.content).toBe(
      ['src/', '  deep/', '    nested/', '      x.ts (25 bytes)', '  main.ts (76 bytes)', '  util.ts (67 bytes)'].join(
        '\n',
      ),
    );
    expect(await call('list_dir', { path: 'README.md' })).toMatchObject({ isError: true, reason: 'not_directory' });
    expect(await call('list_dir', { path: '..' })).toMatchObject({
      isError: true,
      code: ErrorCodes.PathOutsideWorkspace,
    });
  });
});

describe('glob', () => {
  it('matches by pattern, honours .gitignore and hints at ** when nothing matches', async () => {
    expect((await call('glob', { pattern: '**/*.ts' })).content).toBe('src/deep/nested/x.ts\nsrc/main.ts\nsrc/util.ts');
    expect((await call('glob', { pattern: '*.ts', path: 'src' })).content).toBe('src/main.ts\nsrc/util.ts');
    expect((await call('glob', { pattern: 'src/*.ts' })).content).toBe('src/main.ts\nsrc/util.ts');
    expect((await call('glob', { pattern: '**/*.js' })).content).toContain('No files match');
    expect((await call('glob', { pattern: '*.ts' })).content).toContain('use "**/*.ts"');
    expect((await call('glob', { pattern: '**/*.log' })).content).toContain('No files match');
  });
});

describe('grep', () => {
  it('finds lines with numbers, skipping .git, ignored and binary files', async () => {
    const r = await call('grep', { pattern: 'TODO' });
    expect(r.content).toBe('src/util.ts:2:   return x + 1; // TODO tidy');
    const ci = await call('grep', { pattern: 'todo', ignore_case: true });
    expect(ci.content.split('\n')).toEqual([
      'src/deep/nested/x.ts:1: export const x = "todo";',
      'src/util.ts:2:   return x + 1; // TODO tidy',
    ]);
    expect((await call('grep', { pattern: 'helper', glob: '*.ts', path: 'src' })).content.split('\n')).toEqual([
      'src/main.ts:1: import { helper } from "./util.js";',
      'src/main.ts:3:   return helper(1);',
      'src/util.ts:1: export function helper(x: number) {',
    ]);
    expect((await call('grep', { pattern: 'PNG' })).content).toContain('No matches');
    expect((await call('grep', { pattern: 'secret' })).content).toContain('No matches');
  });

  it('matches line by line: no match across lines, CRLF stripped, right line numbers', async () => {
    put('m.txt', 'alpha\nbeta\r\ngamma beta\n\nend beta');
    expect((await call('grep', { pattern: 'alpha\\sbeta' })).content).toContain('No matches');
    expect((await call('grep', { pattern: 'beta$', path: 'm.txt' })).content.split('\n')).toEqual([
      'm.txt:2: beta',
      'm.txt:3: gamma beta',
      'm.txt:5: end beta',
    ]);
    expect((await call('grep', { pattern: '^$', path: 'm.txt' })).content).toBe('m.txt:4: ');
    expect((await call('grep', { pattern: 'a\\s', path: 'm.txt' })).content).toBe('m.txt:3: gamma beta');
  });

  it('searches one file, stops at max_matches and explains a bad regex', async () => {
    expect((await call('grep', { pattern: '^', path: 'src/main.ts' })).content.split('\n')).toHaveLength(4);
    const capped = await call('grep', { pattern: '.', max_matches: 2 });
    expect(capped.content.split('\n')).toHaveLength(3);
    expect(capped.content).toContain('[stopped at 2 matches');
    expect(await call('grep', { pattern: 'foo(' })).toMatchObject({
      isError: true,
      code: ErrorCodes.ToolInputInvalid,
      reason: 'invalid_regex',
    });
  });
});

describe('write_file', () => {
  it('creates files with parent directories in the overlay only', async () => {
    const r = await call('write_file', { path: 'new/dir/file.txt', content: 'a\nb\n' });
    expect(r).toMatchObject({
      isError: false,
      changed: ['new/dir/file.txt'],
      content: 'Created new/dir/file.txt (4 bytes, 2 lines).',
    });
    expect(overlayText('new/dir/file.txt')).toBe('a\nb\n');
    expect((await call('write_file', { path: 'README.md', content: 'x' })).content).toBe(
      'Overwrote README.md (1 byte, 1 line).',
    );
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toBe('# Demo\nHello world\n');
  });

  it('refuses .git, escapes and directories', async () => {
    expect(await call('write_file', { path: '.git/hooks/pre-commit', content: 'evil' })).toMatchObject({
      isError: true,
      code: ErrorCodes.PathProtected,
    });
    expect(await call('write_file', { path: '../evil.txt', content: 'x' })).toMatchObject({
      isError: true,
      code: ErrorCodes.PathOutsideWorkspace,
    });
    expect(await call('write_file', { path: 'src', content: 'x' })).toMatchObject({
      isError: true,
      reason: 'is_directory',
    });
  });
});

describe('edit_file', () => {
  it('replaces a unique match and reports the line', async () => {
    const r = await call('edit_file', { path: 'src/util.ts', old_string: 'x + 1', new_string: 'x + 2' });
    expect(r).toMatchObject({
      isError: false,
      changed: ['src/util.ts'],
      content: 'Edited src/util.ts: replaced 1 occurrence (line 2).',
    });
    expect(overlayText('src/util.ts')).toContain('return x + 2;');
  });

  it('tells the model when old_string is missing or not unique', async () => {
    const missing = await call('edit_file', { path: 'src/util.ts', old_string: 'x+1', new_string: 'y' });
    expect(missing).toMatchObject({ isError: true, code: ErrorCodes.EditMismatch, reason: 'no_match' });
    expect(missing.content).toContain('Read the file again');
    const indent = await call('edit_file', { path: 'src/util.ts', old_string: '    return x + 1;', new_string: 'y' });
    expect(indent.content).toContain('check indentation');
    const twice = await call('edit_file', { path: 'src/main.ts', old_string: 'helper', new_string: 'assist' });
    expect(twice).toMatchObject({ isError: true, code: ErrorCodes.EditMismatch, reason: 'not_unique' });
    expect(twice.content).toContain('matches 2 times in src/main.ts (lines 1, 3), expected 1');
    expect(twice.content).toContain('replace_all');
    expect(view.overlay.has('src/main.ts')).toBe(false);
  });

  it('replaces all, or exactly an expected count', async () => {
    expect(
      await call('edit_file', { path: 'src/main.ts', old_string: 'helper', new_string: 'assist', expected_count: 3 }),
    ).toMatchObject({ isError: true, reason: 'count_mismatch' });
    expect(
      (await call('edit_file', { path: 'src/main.ts', old_string: 'helper', new_string: 'assist', expected_count: 2 }))
        .isError,
    ).toBe(false);
    expect(overlayText('src/main.ts')).not.toContain('helper');
    expect(
      (await call('edit_file', { path: 'src/main.ts', old_string: 'assist', new_string: 'aid', replace_all: true }))
        .content,
    ).toContain('replaced 2 occurrences (lines 1, 3)');
  });
});

describe('delete_file and move_file', () => {
  it('deletes files; a directory only with recursive', async () => {
    expect(await call('delete_file', { path: 'README.md' })).toMatchObject({ isError: false, changed: ['README.md'] });
    expect(view.overlay.get('README.md')).toBeNull();
    expect(await call('delete_file', { path: 'README.md' })).toMatchObject({
      isError: true,
      code: ErrorCodes.FileNotFound,
    });
    expect(await call('delete_file', { path: 'src' })).toMatchObject({ isError: true, reason: 'is_directory' });
    expect(await call('delete_file', { path: '.' })).toMatchObject({
      isError: true,
      code: ErrorCodes.PathProtected,
      reason: 'workspace_root',
    });
    expect(await call('delete_file', { path: 'src/deep', recursive: true })).toMatchObject({
      isError: false,
      changed: ['src/deep'],
    });
  });

  it('moves files, creating the destination directory, and will not clobber without overwrite', async () => {
    const r = await call('move_file', { from: 'src/util.ts', to: 'lib/util.ts' });
    expect(r).toMatchObject({ isError: false, changed: ['src/util.ts', 'lib/util.ts'] });
    expect(overlayText('lib/util.ts')).toContain('helper');
    expect(view.overlay.get('src/util.ts')).toBeNull();
    expect(await call('move_file', { from: 'src/main.ts', to: 'README.md' })).toMatchObject({
      isError: true,
      reason: 'destination_exists',
    });
    expect((await call('move_file', { from: 'src/main.ts', to: 'README.md', overwrite: true })).isError).toBe(false);
    expect(await call('move_file', { from: 'nope', to: 'x' })).toMatchObject({
      isError: true,
      code: ErrorCodes.FileNotFound,
    });
    expect(await call('move_file', { from: 'README.md', to: '../x' })).toMatchObject({
      isError: true,
      code: ErrorCodes.PathOutsideWorkspace,
    });
  });
});
