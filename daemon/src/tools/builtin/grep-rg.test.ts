import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeWorkspace } from '../../shadow/test-support.js';
import type { WorkspaceView } from '../../shadow/index.js';
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import type { ProgramExit, Spawner } from '../../spawner/index.js';
import { createToolRuntime, type Tool } from '../index.js';
import { restrictView } from '../restricted-view.js';
import {
  fakePolicy,
  memoryAudit,
  memoryLogger,
  searchPastArgMax,
  sessionContext,
  toolCaller,
} from '../test-support.js';
import { createGrepTool } from './grep.js';
import type { RgFolder } from './file-queue.js';
import { findRipgrep, nextChunk, partEnd, rgPaths, rgPattern } from './grep-rg.js';
import { createGrepWorkers, type GrepWorkers } from './grep-worker.js';

const rg = findRipgrep();
let ws: ReturnType<typeof makeWorkspace>;
let workers: GrepWorkers;

const files: Record<string, string> = {
  '.gitignore': 'dist/\n*.log\n',
  'src/a.ts': 'const x = 42;\nfunction foo() {}\nlet café = "x";\n',
  'src/b.ts': 'éfoo bar\nfoo_bar\n٣ arabic three\nKELVIN K sign\n',
  'src/sub/c.ts': 'alpha\r\nbeta foo\r\n',
  'src/d.md': 'a.b\n[x] ]done\n\\d literally\n',
  'dist/out.js': 'foo in dist\n',
  'app.log': 'foo in a log\n',
  'secret/key.txt': 'foo secret\n',
};

/** An in-process answer without the line that says rg is not installed (the rest must equal rg's answer). */
function withoutHint(content: unknown): string {
  return String(content).replace(/\n\[searched in process: ripgrep \(rg\) is not installed[^\n]*$/, '');
}

/** A grep call over `view`, with rg (`withRg`) or in process only. */
function grepper(view: WorkspaceView, withRg: boolean) {
  return toolCaller(createGrepTool({ workers, rg: withRg ? rg : null }) as Tool, view);
}

/**
 * rg wrapped so that each run's files are counted: a path given is one file, a folder given (at depth 1) its
 * regular files. `files()`: the count of each run so far.
 */
function filesCountingRg(): { rg: string; files: () => number[]; folders: () => string[] } {
  const log = path.join(ws.top, 'rg-files.log');
  const folderLog = path.join(ws.top, 'rg-folders.log');
  writeFileSync(folderLog, '');
  const wrapper = path.join(ws.top, 'rg-files-counted');
  writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      'n=0; paths=0',
      'for a in "$@"; do',
      '  if [ "$paths" = 1 ]; then',
      '    if [ -d "$a" ]; then',
      `      echo "$a" >> '${folderLog}'`,
      '      n=$((n + $(find "$a" -mindepth 1 -maxdepth 1 -type f | wc -l)))',
      '    else n=$((n + 1)); fi',
      '  elif [ "$a" = "--" ]; then paths=1; fi',
      'done',
      `echo "$n" >> '${log}'`,
      `exec '${rg}' "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return {
    rg: wrapper,
    files: () => readFileSync(log, 'utf8').trim().split('\n').map(Number),
    folders: () => readFileSync(folderLog, 'utf8').split('\n').filter(Boolean).sort(),
  };
}

beforeEach(() => {
  ws = makeWorkspace(files);
  workers = createGrepWorkers({ idleMs: 100 });
});
afterEach(async () => {
  await ws.cleanup();
});

/**
 * For the tests that count rg's runs or what they were given: no size check while rg runs. On a loaded machine a run
 * given folders outlives the check (100 ms and up) and goes again by name, which changes the count (not the lines).
 */
const COUNTED = { rgSizeCheckMs: 3_600_000 };

describe('rgPattern: RE2 spellings in the syntax of rg’s engine, same meaning', () => {
  it('Perl classes and word boundaries become ASCII; the rest is copied', () => {
    expect(rgPattern('\\d+\\s\\w')).toBe('[0-9]+[\\t\\n\\f\\r ][0-9A-Za-z_]');
    expect(rgPattern('[^\\d\\S]')).toBe('[^[0-9][^\\t\\n\\f\\r ]]');
    expect(rgPattern('\\bfoo\\b')).toBe('(?-u:\\b)foo(?-u:\\b)');
    expect(rgPattern('[]a][^]b][[:alpha:]x][a[b]')).toBe('[\\]a][^\\]b][[:alpha:]x][a\\[b]');
    expect(rgPattern('(?P<k>\\x{41})\\.\\pL')).toBe('(?P<k>\\x{41})\\.\\pL');
    expect(rgPattern('\\Qa.b\\E+')).toBe('a\\.b+');
    expect(rgPattern('a\\Cb')).toBeNull();
  });

  it('escaped punctuation rg 13 refuses to see escaped (`/` above all, which translateRegExp escapes) is written bare', () => {
    expect(rgPattern('http:\\/\\/x\\.org\\/')).toBe('http://x\\.org/');
    expect(rgPattern('\\!\\"\\%\\\'\\,\\:\\;\\<\\=\\>\\@\\_\\`\\ ')).toBe('!"%\',:;<=>@_` ');
    expect(rgPattern('[\\/\\:\\-\\]]')).toBe('[/:\\-\\]]');
    expect(rgPattern('\\Qa b/c.d\\E')).toBe('a b/c\\.d');
  });

  it('braces that are no repetition are literal; RE2’s octal \\0 becomes \\x{…}; \\x{…} and \\p{…} are kept', () => {
    expect(rgPattern('x{,3} {a} a{ 3} {')).toBe('x\\{,3} \\{a} a\\{ 3} \\{');
    expect(rgPattern('x{2} x{2,} x{2,3} [{]')).toBe('x{2} x{2,} x{2,3} [{]');
    expect(rgPattern('a\\0b\\012\\08')).toBe('a\\x{0}b\\x{a}\\x{0}8');
    expect(rgPattern('\\x{1F600}\\p{Greek}\\P{L}\\x{41}{2}')).toBe('\\x{1F600}\\p{Greek}\\P{L}\\x{41}{2}');
  });
});

describe('rgPattern: where rg 13 and RE2 read the same text differently (review s9-grep)', () => {
  it('a count with a leading zero is no repetition; & and ~ in a class are characters; -- in a class and \\B stay in process', () => {
    expect(rgPattern('a{01} x{1,02} a{0} a{10,20} b{1,}')).toBe('a\\{01} x\\{1,02} a{0} a{10,20} b{1,}');
    expect(rgPattern('[^}&&}][a~~&]')).toBe('[^}\\&\\&}][a\\~\\~\\&]');
    expect(rgPattern('[!--]')).toBeNull();
    expect(rgPattern('a\\Bb')).toBeNull();
    expect(rgPattern('[\\--a]')).toBe('[\\--a]');
  });
});

describe('nextChunk: how many files each rg run gets', () => {
  it('256 first; then what the density of the lines found says the rest needs; growing when nothing is found', () => {
    expect(nextChunk({ max: 200, found: 0, searched: 0, runs: 0, last: 0 })).toEqual({ max: 256, atLeast: 256 });
    // A large max: half a file per line wanted (two lines a file answer it in one run).
    expect(nextChunk({ max: 5000, found: 0, searched: 0, runs: 0, last: 0 })).toEqual({ max: 2501, atLeast: 2501 });
    // 768 lines in 256 files, 5,000 wanted: (5001 − 768) × 256 / 768 × 1.25 + 32 files.
    expect(nextChunk({ max: 5000, found: 768, searched: 256, runs: 1, last: 256 })).toEqual({
      max: 1796,
      atLeast: 1796,
    });
    // The estimate fell short (a sparse part): at least twice the last run.
    expect(nextChunk({ max: 5000, found: 900, searched: 2052, runs: 2, last: 1796 }).max).toBe(11_720);
    expect(nextChunk({ max: 1000, found: 990, searched: 5000, runs: 2, last: 300 }).max).toBe(600);
    // Nothing found: everything queued once there are 8× the first run's files (2,048: a 2,000-file tree in two
    // runs), then 4× the last run's (rg keeps working beside a big tree's walk), at most 16,384.
    expect(nextChunk({ max: 200, found: 0, searched: 256, runs: 1, last: 256 })).toEqual({
      max: 16_384,
      atLeast: 2048,
    });
    expect(nextChunk({ max: 200, found: 0, searched: 2304, runs: 2, last: 2048 }).atLeast).toBe(8192);
    expect(nextChunk({ max: 200, found: 0, searched: 9000, runs: 3, last: 8000 }).atLeast).toBe(16_384);
  });
});

describe.skipIf(!rg)('grep with ripgrep over the shadow view', () => {
  it('gives exactly what the in-process search gives, pattern by pattern', async () => {
    const view = await ws.open().view('s1', ws.root);
    const withRg = grepper(view, true);
    const inProc = grepper(view, false);
    writeFileSync(
      path.join(ws.root, 'src', 'e.md'),
      'see http://x.org/a_b: \'q\' "r" 50% <a=b> @me ,;! `t` a b\nx{,3} {a} and the bell \x07 char\n',
    );
    const stateBefore = du(ws.stateDir);
    const cases: Record<string, unknown>[] = [
      { pattern: 'foo' },
      { pattern: '\\d+' }, // RE2's \d is ASCII: the Arabic-Indic three does not match
      { pattern: '\\bfoo\\b' }, // ASCII \b: "éfoo" has a boundary before f
      { pattern: '\\w+\\s\\w+' },
      { pattern: 'caf\\u00e9' },
      { pattern: 'k sign', ignore_case: true },
      { pattern: 'foo$' }, // CRLF lines end before \r
      { pattern: '^beta' },
      { pattern: '[\\]x] \\]' },
      { pattern: 'a\\.b' },
      { pattern: 'foo', path: 'src/sub' },
      { pattern: 'foo', path: 'src/b.ts' },
      { pattern: 'foo', glob: '**/*.md' },
      { pattern: '.', max_matches: 3 },
      { pattern: 'nothing-matches-this' },
      // Punctuation RE2 lets be escaped and rg 13 does not (each once sent the whole grep in process).
      { pattern: 'http://x\\.org/a_b:' },
      { pattern: '\\/a\\_b\\:' },
      { pattern: "[\\/\\:]\\s'q'" },
      { pattern: '\\"r\\" 50\\%' },
      { pattern: '\\<a\\=b\\> \\@me \\,\\;\\!' },
      { pattern: '\\`t\\` a\\ b' },
      { pattern: '\\Q`t` a b\\E' },
      { pattern: 'x{,3} {a}' }, // braces that are no repetition: literal (rg 13 refused them)
      { pattern: 'bell \\07 ' }, // RE2's octal escape (rg read \0 as a backreference)
      { pattern: 'x{01}' }, // review s9-grep R1: a literal in RE2, a repetition in rg
      { pattern: '[^}&&}]' }, // R2: a class of three characters in RE2, an intersection in rg
    ];
    for (const c of cases) {
      const a = await withRg(c);
      const b = await inProc(c);
      expect({ c, content: a.content }).toEqual({ c, content: b.content });
      expect(a.isError).toBe(false);
      expect({ c, data: a.data }).toMatchObject({ c, data: { inProcess: 0 } });
    }
    // Patterns rg would read differently (R2's --, R5's \B) or compile past its size limits (R10's \pL{1000}, ~245 MB
    // in every run without them): searched in process, the same answer.
    writeFileSync(path.join(ws.root, 'src', 'f.md'), 'x\u00a0y\nb\r\n!-,\nword '.repeat(3) + '\n');
    for (const c of [{ pattern: '[!--]' }, { pattern: 'y\\B' }, { pattern: '\\pL{1000}' }, { pattern: '\\pL{300}' }]) {
      const a = await withRg(c);
      const b = await inProc(c);
      expect({ c, content: a.content }).toEqual({ c, content: b.content });
      expect({ c, data: a.data }).not.toMatchObject({ c, data: { inProcess: 0 } });
    }
    const all = await withRg({ pattern: 'foo' });
    expect(all.content).not.toContain('dist/');
    expect(all.content).not.toContain('app.log');
    expect(all.data).toMatchObject({ inProcess: 0 });
    expect(du(ws.stateDir)).toBe(stateBefore); // no search, in process or not, copies what it read
  });

  it('over thousands of files in several rg runs: the same lines as in process, and rg runs only on the files the lines need', async () => {
    // 3,000 files in 30 folders: the first 300 hold three lines each, the rest one line in every 10th file.
    for (let d = 0; d < 30; d++) {
      mkdirSync(path.join(ws.root, 'big', `d${String(d).padStart(2, '0')}`), { recursive: true });
      for (let f = 0; f < 100; f++) {
        const n = d * 100 + f;
        const text = n < 300 ? `foo ${n}\nbar\nfoo again\nfoo ${n}\n` : n % 10 === 0 ? `x\nfoo ${n}\n` : 'nothing\n';
        writeFileSync(
          path.join(ws.root, 'big', `d${String(d).padStart(2, '0')}`, `f${String(f).padStart(3, '0')}.txt`),
          text,
        );
      }
    }
    const view = await ws.open().view('s1', ws.root);
    // rg wrapped so that each run is counted.
    const log = path.join(ws.top, 'rg-runs.log');
    const counted = path.join(ws.top, 'rg-counted');
    writeFileSync(counted, `#!/bin/sh\necho run >> '${log}'\nexec '${rg}' "$@"\n`, { mode: 0o755 });
    const runs = () => {
      try {
        return readFileSync(log, 'utf8').split('\n').length - 1;
      } catch {
        return 0;
      }
    };
    const tool = createGrepTool({ workers, rg: counted, ...COUNTED }) as Tool;
    const agent = createToolRuntime({
      tools: [tool],
      policy: fakePolicy().policy,
      audit: memoryAudit(),
      logger: memoryLogger(),
    }).forSession(sessionContext(view).ctx);
    let n = 0;
    const withRg = (input: Record<string, unknown>) =>
      agent.call({ turnId: 't', callId: `r${++n}`, name: 'grep', input, signal: new AbortController().signal });
    const inProc = grepper(view, false);
    for (const c of [
      { pattern: 'foo \\d+', path: 'big', max_matches: 500 }, // dense start: two runs
      { pattern: 'foo', path: 'big', max_matches: 1000 }, // past the dense start into the sparse part
      { pattern: 'nothing-matches-this', path: 'big' },
      { pattern: 'foo 2\\d\\d\\d', path: 'big', max_matches: 5000 },
    ]) {
      const before = runs();
      const a = await withRg(c);
      const b = await inProc(c);
      expect({ c, content: a.content }).toEqual({ c, content: withoutHint(b.content) });
      expect(a.data).toMatchObject({ inProcess: 0 });
      if (c.max_matches === 500) {
        // 256 files hold 512 lines ("foo N" twice each): rg's first run is enough, and the walk stopped.
        expect(runs() - before).toBe(1);
        expect((a.data as { files: number }).files).toBe(256);
      }
      if (c.max_matches === 1000) {
        // Not every queued file: rg took what the lines said was needed, then more when it fell short.
        expect((a.data as { files: number }).files).toBeLessThan(3000);
        expect(runs() - before).toBeLessThanOrEqual(5);
      }
    }
  });

  it('a large first run flooded with lines is killed, and its files searched again in smaller runs: the same lines', async () => {
    // 600 files of 40 matching lines: the first run (2,501 files asked for, all 600 queued) would print 24,000 lines
    // for 5,000 wanted; past 10,002 it is killed and the first 256 files, 10,240 lines, answer.
    for (let d = 0; d < 6; d++) {
      mkdirSync(path.join(ws.root, 'dense', `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++)
        writeFileSync(
          path.join(ws.root, 'dense', `d${d}`, `f${String(f).padStart(3, '0')}.txt`),
          Array.from({ length: 40 }, (_, i) => `hit ${d} ${f} ${i}`).join('\n'),
        );
    }
    const view = await ws.open().view('s1', ws.root);
    const { rg: counted, files: given } = filesCountingRg();
    const withRg = toolCaller(createGrepTool({ workers, rg: counted, ...COUNTED }) as Tool, view);
    const inProc = grepper(view, false);
    const c = { pattern: 'hit', path: 'dense', max_matches: 5000 };
    const a = await withRg(c);
    const b = await inProc(c);
    expect(a.content).toBe(withoutHint(b.content));
    expect(a.content).toContain('[stopped at 5000 matches');
    expect(a.data).toMatchObject({ inProcess: 0, files: 256, matches: 5000 });
    // Two runs: the flooded one (600 files, given as their 6 folders), then 256 of them.
    expect(given()).toEqual([600, 256]);
  });

  it('a dense region far into a large run costs a few killed runs, each half the last, not one per 256 files', async () => {
    // 12,000 files: 13 lines in the first 256, none until file 10,000, then 20 files of 60 lines, 100 wanted. Each
    // large part that reaches the dense files is killed; before the cap each kill was followed by 256 files and then
    // a run up to the dense files again (62 runs, 185,002 file arguments; with it 10 runs, 26,519).
    for (let d = 0; d < 120; d++) {
      mkdirSync(path.join(ws.root, 'tree', `d${String(d).padStart(3, '0')}`), { recursive: true });
      for (let f = 0; f < 100; f++) {
        const n = d * 100 + f;
        const text =
          n < 256 && n % 20 === 0
            ? 'needle\n'
            : n >= 10_000 && n < 10_020
              ? Array.from({ length: 60 }, (_, i) => `needle ${i}`).join('\n')
              : 'hay\n';
        writeFileSync(
          path.join(ws.root, 'tree', `d${String(d).padStart(3, '0')}`, `f${String(f).padStart(3, '0')}`),
          text,
        );
      }
    }
    const view = await ws.open().view('s1', ws.root);
    const { rg: counted, files: given } = filesCountingRg();
    const withRg = toolCaller(createGrepTool({ workers, rg: counted, ...COUNTED }) as Tool, view);
    const c = { pattern: 'needle', path: 'tree', max_matches: 100 };
    const a = await withRg(c);
    const b = await grepper(view, false)(c);
    expect(a.content).toBe(withoutHint(b.content));
    const runs = given();
    expect(runs.length).toBeLessThanOrEqual(20);
    expect(runs.reduce((x, y) => x + y, 0)).toBeLessThan(60_000);
  }, 120_000);

  it('files the shadow changed come from the layer: new text found, old text gone, deleted files absent', async () => {
    const view = await ws.open().view('s1', ws.root);
    await view.writeFile('src/a.ts', 'const x = 43;\nfunction renamed() {}\n');
    await view.writeFile('src/new.ts', 'foo from the agent\n');
    await view.remove('src/sub');
    const call = grepper(view, true);
    const r = await call({ pattern: 'foo|43|42' });
    expect(r.content).toBe(
      [
        'secret/key.txt:1: foo secret',
        'src/a.ts:1: const x = 43;',
        'src/b.ts:1: éfoo bar',
        'src/b.ts:2: foo_bar',
        'src/new.ts:1: foo from the agent',
      ].join('\n'),
    );
    expect(r.data).toMatchObject({ inProcess: 2 });
  });

  it('never shows a path the policy denies, nor a link out of the workspace', async () => {
    const view = await ws.open().view('s1', ws.root);
    const outside = path.join(ws.top, 'outside.txt');
    writeFileSync(outside, 'foo outside\n');
    symlinkSync(outside, path.join(ws.root, 'src', 'link.ts'));
    const call = grepper(restrictView(view, [{ glob: 'secret/**', rule: 'project:deny path=secret/**' }]), true);
    const r = await call({ pattern: 'foo' });
    expect(r.content).not.toContain('secret');
    expect(r.content).not.toContain('outside');
    expect(r.content).toContain('src/a.ts:2: function foo() {}');
  });

  it('a folder or a file swapped for a link to outside after the walk listed it: rg follows it, but none of its lines are shown', async () => {
    const view = await ws.open().view('s1', ws.root);
    const outside = path.join(ws.top, 'outside');
    mkdirSync(outside);
    writeFileSync(path.join(outside, 'c.ts'), 'foo SECRET from outside\n');
    // The race made deterministic: rg is started through a script that swaps src/sub first.
    const swapping = path.join(ws.top, 'rg-swap');
    writeFileSync(
      swapping,
      `#!/bin/sh\nif [ ! -L '${ws.root}/src/sub' ]; then mv '${ws.root}/src/sub' '${ws.top}/sub-old'; ln -s '${outside}' '${ws.root}/src/sub'; mv '${ws.root}/src/b.ts' '${ws.top}/b-old.ts'; ln -s '${outside}/c.ts' '${ws.root}/src/b.ts'; fi\nexec '${rg}' "$@"\n`,
      { mode: 0o755 },
    );
    const tool = createGrepTool({ workers, rg: swapping }) as Tool;
    const r = await tool.handler(
      { pattern: 'foo', path: '', ignore_case: false, max_matches: 200 },
      { sessionId: 's1', workspace: ws.root, view, signal: new AbortController().signal },
    );
    expect(r.content).not.toContain('SECRET');
    expect(r.content).toContain('src/a.ts:2: function foo() {}');
    expect(r.content).not.toContain('src/sub/c.ts');
    expect(r.content).not.toContain('src/b.ts');
  });

  it('an unreadable file is skipped, the rest is found', async () => {
    const view = await ws.open().view('s1', ws.root);
    mkdirSync(path.join(ws.root, 'many'));
    for (let i = 0; i < 50; i++) writeFileSync(path.join(ws.root, 'many', `f${i}.txt`), `foo ${i}\n`);
    await chmod(path.join(ws.root, 'many', 'f3.txt'), 0o000);
    const call = grepper(view, true);
    const r = await call({ pattern: 'foo \\d+', path: 'many', max_matches: 1000 });
    expect(r.isError).toBe(false);
    expect(r.data).toMatchObject({ matches: process.getuid?.() === 0 ? 50 : 49 });
  });

  it('a cancelled call kills rg (a stand-in rg that never ends) and settles as cancelled', async () => {
    const view = await ws.open().view('s1', ws.root);
    const pidFile = path.join(ws.top, 'rg.pid');
    const fakeRg = path.join(ws.top, 'fake-rg');
    writeFileSync(fakeRg, `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 1000\n`, { mode: 0o755 });
    const tool = createGrepTool({ workers, rg: fakeRg }) as Tool;
    const ac = new AbortController();
    const running = tool.handler(
      { pattern: 'foo', path: '', ignore_case: false, max_matches: 200 },
      { sessionId: 's1', workspace: ws.root, view, signal: ac.signal },
    );
    const pid = await until(() => {
      try {
        return Number(readFileSync(pidFile, 'utf8')) || undefined;
      } catch {
        return undefined;
      }
    });
    ac.abort();
    const r = await running;
    expect(r.data).toMatchObject({ stopped: 'cancelled' });
    // The stand-in read nothing: no file counts as searched (the whole killed run did).
    expect(r.data).toMatchObject({ files: 0 });
    expect(r.content).toMatch(/\[grep was cancelled after 0 of \d+ files\]/);
    await until(() => (alive(pid) ? undefined : true));
  });

  it('a cancelled call whose rg does not end after its kill (program_not_ended) answers as cancelled: the run counts for nothing', async () => {
    // As the spawner fails a killed run whose program has not ended (a process on a hung disk outlives SIGKILL): the
    // whole call failed with program_not_ended, though like any run the stop killed it counts for nothing, and the
    // call ends without it. The stand-in's runs never end; a kill after the cancel fails the run as the spawner would
    // (a kill before it, at a size check, leaves the run waiting, as the kill wait does).
    const view = await ws.open().view('s1', ws.root);
    const ac = new AbortController();
    let spawned = 0;
    const hung: Spawner = {
      spawn: (file) => {
        spawned++;
        let fail: (e: Error) => void = () => undefined;
        const exited = new Promise<ProgramExit>((_, reject) => (fail = reject));
        return {
          exited,
          kill: (signal = 'SIGTERM') => {
            if (signal === 'SIGKILL' && ac.signal.aborted)
              fail(new ShadowboxError(ErrorCodes.ToolFailed, 'program_not_ended', `${file} has not ended`));
          },
        };
      },
      warm: () => undefined,
      state: () => 'ready',
      close: async () => undefined,
    };
    const tool = createGrepTool({ workers, rg: rg!, spawner: hung }) as Tool;
    const running = tool.handler(
      { pattern: 'foo', path: '', ignore_case: false, max_matches: 200 },
      { sessionId: 's1', workspace: ws.root, view, signal: ac.signal },
    );
    await until(() => (spawned > 0 ? true : undefined));
    ac.abort();
    const r = await running;
    expect(r.data).toMatchObject({ stopped: 'cancelled', files: 0 });
    expect(r.content).toMatch(/\[grep was cancelled after 0 of \d+ files\]/);
  });

  it('a pattern rg takes longer than a size check to refuse is still searched in process, not answered "No matches"', async () => {
    // rg 13 takes ~130 ms to refuse \pL{300} here (its compile hits --regex-size-limit); a loaded machine, longer.
    // The probe that asks whether rg refuses the pattern itself (on /dev/null) was killed at its size check, which
    // counted /dev/null, not a file of the workspace, as over the cap: grep then took rg's exit 2 for "nothing found".
    // The stand-in sleeps before rg so that every run outlasts the first size check (100 ms).
    writeFileSync(path.join(ws.root, 'src', 'letters.txt'), `${'x'.repeat(400)}\n`);
    const slowRg = path.join(ws.top, 'slow-rg');
    writeFileSync(slowRg, `#!/bin/sh\nsleep 0.3\nexec '${rg}' "$@"\n`, { mode: 0o755 });
    const view = await ws.open().view('s1', ws.root);
    const c = { pattern: '\\pL{300}' };
    const a = await toolCaller(createGrepTool({ workers, rg: slowRg }) as Tool, view)(c);
    const b = await grepper(view, false)(c);
    expect(b.content).toMatch(/^src\/letters\.txt:1: x{300}/);
    expect(a.content).toBe(b.content);
    expect(a.data).not.toMatchObject({ inProcess: 0 });
  });
});

/** Bytes under a folder (0 when absent). */
function du(dir: string): number {
  let n = 0;
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      n += e.isDirectory() ? du(p) : statSync(p).size;
    }
  } catch {
    // absent
  }
  return n;
}

async function until<T>(f: () => T | undefined): Promise<T> {
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!rg)('rg given whole folders', () => {
  it('searches a folder as its listed files: hidden names, NUL bytes, depth 1, the same lines as in process', async () => {
    const tree: Record<string, string> = {
      'w/one/a.txt': 'needle a\n',
      'w/one/b.txt': 'hay\n',
      'w/hid/.env.example': 'needle hidden\n',
      'w/hid/c.txt': 'hay\n',
      'w/nul/d.bin': 'needle before\n\0\nneedle after\n',
      'w/nul/e.txt': 'needle e\n',
      // A NUL past the first 8 KiB: text to grep in process; rg stops at it unless told to search on (--binary).
      'w/nul/late.txt': `${'x'.repeat(9000)}\n\0\nneedle late\n`,
      'w/deep/f.txt': 'needle f\n',
      'w/deep/sub/g.txt': 'needle g\n',
    };
    for (const [p, text] of Object.entries(tree)) {
      mkdirSync(path.dirname(path.join(ws.root, p)), { recursive: true });
      writeFileSync(path.join(ws.root, p), text);
    }
    const view = await ws.open().view('s1', ws.root);
    const { rg: counted, folders } = filesCountingRg();
    const withRg = toolCaller(createGrepTool({ workers, rg: counted, ...COUNTED }) as Tool, view);
    const c = { pattern: 'needle', path: 'w' };
    const a = await withRg(c);
    const b = await grepper(view, false)(c);
    expect(a.content).toBe(withoutHint(b.content));
    // w/deep/sub/g.txt once (w/deep is searched at depth 1), .env.example found, the NUL file as in process.
    expect(String(a.content).match(/g\.txt/g)).toHaveLength(1);
    expect(a.content).toContain('w/hid/.env.example:1: needle hidden');
    expect(a.content).toContain('w/nul/late.txt:3: needle late');
    expect(a.data).toMatchObject({ inProcess: 0 });
    expect(folders()).toEqual(['w/deep', 'w/deep/sub', 'w/hid', 'w/nul', 'w/one']);
  });

  it('gives a folder only when its listing is the real one: not where the shadow deleted, wrote or linked a file', async () => {
    for (const d of ['keep', 'gone', 'wrote', 'linked', 'ignored'])
      for (const f of ['x.txt', 'y.txt']) {
        mkdirSync(path.join(ws.root, 'z', d), { recursive: true });
        writeFileSync(path.join(ws.root, 'z', d, f), `needle ${d} ${f}\n`);
      }
    writeFileSync(path.join(ws.root, 'z', 'ignored', '.gitignore'), 'y.txt\n');
    const view = await ws.open().view('s1', ws.root);
    await view.remove('z/gone/y.txt');
    await view.writeFile('z/wrote/y.txt', 'needle from the agent\n');
    await view.symlink('z/linked/l.txt', 'x.txt');
    const { rg: counted, folders } = filesCountingRg();
    const withRg = toolCaller(createGrepTool({ workers, rg: counted, ...COUNTED }) as Tool, view);
    const c = { pattern: 'needle', path: 'z' };
    const a = await withRg(c);
    const b = await grepper(view, false)(c);
    expect(a.content).toBe(withoutHint(b.content));
    expect(a.content).not.toContain('z/gone/y.txt');
    expect(folders()).toEqual(['z/keep']);
    // Under a deny rule the view leaves files out of its listings: no folder is given at all.
    const denied = toolCaller(
      createGrepTool({ workers, rg: counted, ...COUNTED }) as Tool,
      restrictView(view, [{ glob: 'z/keep/y.txt', rule: 'project:deny path=z/keep/y.txt' }]),
    );
    writeFileSync(path.join(ws.top, 'rg-folders.log'), '');
    const r = await denied(c);
    expect(r.content).toContain('z/keep/x.txt');
    expect(r.content).not.toContain('z/keep/y.txt');
    expect(folders()).toEqual([]);
  });
});

describe("rg's argument parts", () => {
  // 24,000 short paths then 1,500 of ~2,650 bytes: parts were once cut at the count the first paths gave, so a
  // part of long paths reached ~18 MB of arguments and rg's spawn failed (E2BIG) on every grep of such a tree.
  it('a folder whose files are all in the run is given as the folder, once; a folder split between runs as files', () => {
    const whole: RgFolder = { path: 'a', files: 2 };
    const split: RgFolder = { path: 'b', files: 3 };
    const files = [
      { k: 0, path: 'a/1', folder: whole },
      { k: 1, path: 'a/2', folder: whole },
      { k: 2, path: 'b/1', folder: split },
      { k: 3, path: 'b/2', folder: split },
      { k: 4, path: 'c' },
    ];
    expect(rgPaths(files)).toEqual(['a', 'b/1', 'b/2', 'c']);
    expect(rgPaths(files.slice(1))).toEqual(['a/2', 'b/1', 'b/2', 'c']);
  });

  it('each part is sized by its own paths, in UTF-8 bytes, and every file lands in exactly one part, in order', () => {
    const files = [
      ...Array.from({ length: 24_000 }, (_, i) => ({ path: `a/f${String(i).padStart(6, '0')}${'s'.repeat(24)}.txt` })),
      ...Array.from({ length: 1_500 }, (_, i) => ({ path: `b/${'é'.repeat(1_300)}/${i}` })),
    ];
    const budget = 256 * 1024;
    const seen: string[] = [];
    for (let at = 0; at < files.length;) {
      const end = partEnd(files, at, budget);
      expect(end).toBeGreaterThan(at);
      const bytes = files.slice(at, end).reduce((n, f) => n + Buffer.byteLength(f.path) + 1 + 8, 0);
      expect(bytes <= budget || end === at + 1).toBe(true);
      seen.push(...files.slice(at, end).map((f) => f.path));
      at = end;
    }
    expect(seen).toEqual(files.map((f) => f.path));
    // A single path past the budget still runs, alone.
    expect(partEnd([{ path: 'x'.repeat(300) }, { path: 'y' }], 0, 100)).toBe(1);
  });
});

describe.skipIf(!rg)('rg refused for too many arguments (E2BIG)', () => {
  // 2,600 paths of ~1,000 bytes given at once: past the kernel's 2 MiB (ARG_MAX with the default stack) — as a
  // 1 MiB budget would be where ARG_MAX is smaller. The search goes on in smaller parts instead of failing.
  it('runs the same files again in halves, and finds every line', async () => {
    const r = await searchPastArgMax(ws.root, rg!);
    expect(r.kind).toBe('done');
    if (r.kind !== 'done') return;
    expect(r.searched).toBe(2_600);
    expect([...r.lines.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 26 }, (_, i) => i * 100));
  });
});
