import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeWorkspace } from '../../shadow/test-support.js';
import type { WorkspaceView } from '../../shadow/index.js';
import { createToolRuntime, type Tool } from '../index.js';
import { restrictView } from '../restricted-view.js';
import { fakePolicy, memoryAudit, memoryLogger, sessionContext } from '../test-support.js';
import { createGrepTool } from './grep.js';
import { findRipgrep } from './grep-rg.js';
import { walkOrder } from './grep-scan.js';
import { createGrepWorkers, type GrepWorkers } from './grep-worker.js';

const rg = findRipgrep();
let ws: ReturnType<typeof makeWorkspace>;
let workers: GrepWorkers;
let rgLog: string;
let loggedRg: string;

// Every way the walk's rules and rg's own could part: nested `!` re-includes, .ignore/.rgignore files
// (the walk reads neither), hidden files, ignored folders at the top and deeper, links to files and
// folders inside and outside, mixed-case denied paths, binary files, names whose order is subtle.
const files: Record<string, string | Buffer> = {
  '.gitignore': 'build/\n*.log\n!keep.log\nsub/local.txt\n',
  '.ignore': 'src/\n',
  '.rgignore': 'a.txt\n',
  'keep.log': 'foo kept log\n',
  'app.log': 'foo ignored log\n',
  'build/out.js': 'foo in build\n',
  'src/deep/build/x.js': 'foo in a deeper build\n',
  'src/a.ts': 'const x = 42;\nfunction foo() {}\nfoo again\n',
  'src/b.ts': 'foo bar\nfoo_bar\n',
  'src/sub/.gitignore': '!*.log\n!local.txt\nc2.ts\n',
  'src/sub/x.log': 'foo re-included by a nested !\n',
  'src/sub/c.ts': 'alpha\r\nbeta foo\r\n',
  'src/sub/c2.ts': 'foo ignored by the nested file\n',
  'sub/local.txt': 'foo local\n',
  '.hidden/h.txt': 'foo hidden\n',
  'a.txt': 'foo a.txt\n',
  'a/z.txt': 'foo a/z\n',
  'a-c/z.txt': 'foo a-c/z\n',
  'Zeta.txt': 'foo upper\n',
  'ü.txt': 'foo umlaut\n',
  'SeCret/key.txt': 'foo secret\n',
  'private/p.txt': 'foo private\n',
  'bin.dat': Buffer.concat([Buffer.from('foo before\n'), Buffer.from([0, 1, 2]), Buffer.from('\nfoo after\n')]),
};

/**
 * A grep call over `view`: rg walking, one process ('walk') or two sharing the tree ('split'); rg on the
 * walk's lists ('lists'); or in process ('proc').
 */
function grepper(view: WorkspaceView, how: 'walk' | 'split' | 'lists' | 'proc') {
  const tool = createGrepTool({
    workers,
    rg: how === 'proc' ? null : loggedRg,
    rgWalks: how === 'walk' || how === 'split',
    rgSplitFiles: how === 'split' ? 0 : Infinity,
  }) as Tool;
  const agent = createToolRuntime({
    tools: [tool],
    policy: fakePolicy().policy,
    audit: memoryAudit(),
    logger: memoryLogger(),
  }).forSession(sessionContext(view).ctx);
  let n = 0;
  return async (input: Record<string, unknown>) => {
    const r = await agent.call({
      turnId: 't',
      callId: `c${++n}`,
      name: 'grep',
      input,
      signal: new AbortController().signal,
    });
    expect({ input, isError: r.isError, content: r.isError ? r.content : '' }).toEqual({
      input,
      isError: false,
      content: '',
    });
    return String(r.content).replace(/\n\[searched in process: ripgrep[^\n]*$/, '');
  };
}

/** rg runs so far given the walk's lists. */
const listRuns = () => {
  try {
    return readFileSync(rgLog, 'utf8')
      .split('\n')
      .filter((l) => l !== '' && !l.includes('--sort=path')).length;
  } catch {
    return 0;
  }
};

/** rg processes so far that walked the tree (sorted by path) rather than took lists (one or two per call). */
const walks = () => {
  try {
    return readFileSync(rgLog, 'utf8')
      .split('\n')
      .filter((l) => l.includes('--sort=path')).length;
  } catch {
    return 0;
  }
};

beforeEach(() => {
  ws = makeWorkspace(files);
  workers = createGrepWorkers({ idleMs: 100 });
  const outside = path.join(ws.top, 'outside');
  mkdirSync(outside);
  writeFileSync(path.join(outside, 'o.ts'), 'foo OUTSIDE\n');
  symlinkSync('src/a.ts', path.join(ws.root, 'lnk-in.ts'));
  symlinkSync('src', path.join(ws.root, 'lnkdir'));
  symlinkSync(path.join(outside, 'o.ts'), path.join(ws.root, 'lnk-out.ts'));
  symlinkSync(outside, path.join(ws.root, 'lnkdir-out'));
  rgLog = path.join(ws.top, 'rg-args.log');
  loggedRg = path.join(ws.top, 'rg-logged');
  writeFileSync(loggedRg, `#!/bin/sh\necho "$*" >> '${rgLog}'\nexec '${rg}' "$@"\n`, { mode: 0o755 });
});
afterEach(async () => {
  await ws.cleanup();
});

const CASES: Record<string, unknown>[] = [
  { pattern: 'foo' },
  { pattern: 'foo', max_matches: 1 },
  { pattern: 'foo', max_matches: 2 },
  { pattern: 'foo', max_matches: 3 },
  { pattern: 'foo', max_matches: 5 },
  { pattern: 'foo', max_matches: 8 },
  { pattern: 'FOO', ignore_case: true, max_matches: 4 },
  { pattern: 'foo', path: 'src' },
  { pattern: 'foo', path: 'src/sub' },
  { pattern: 'foo', path: 'build' }, // inside an ignored folder: nothing for rg
  { pattern: 'foo$' },
  { pattern: 'nothing-matches-this' },
];

describe.skipIf(!rg)('grep with rg walking the tree: the same lines as the walk’s lists and as in process', () => {
  it('over ignore files rg reads differently, hidden files, links, binary files and odd orders, at every cut', async () => {
    const view = await ws.open().view('s1', ws.root);
    const [viaWalk, viaSplit, viaLists, inProc] = [
      grepper(view, 'walk'),
      grepper(view, 'split'),
      grepper(view, 'lists'),
      grepper(view, 'proc'),
    ];
    for (const c of CASES) {
      const [walked, listed] = [walks(), listRuns()];
      const a = await viaWalk(c);
      const split = await viaSplit(c);
      // The path under test was taken: rg walked (two processes when split and nothing stops it early),
      // and no rg was given lists.
      expect(listRuns() - listed).toBe(0);
      expect(walked + (c.max_matches === undefined && c.path !== 'build' ? 2 : 0)).toBeLessThanOrEqual(walks());
      expect({ c, split }).toEqual({ c, split: a });
      expect({ c, a }).toEqual({ c, a: await viaLists(c) });
      expect({ c, a }).toEqual({ c, a: await inProc(c) });
    }
    const all = await viaWalk({ pattern: 'foo' });
    for (const shown of [
      'keep.log',
      '.hidden/h.txt',
      'a.txt',
      'src/a.ts',
      'lnk-in.ts:2: function foo',
      'SeCret/key.txt',
    ])
      expect(all).toContain(shown);
    for (const hidden of [
      'app.log',
      'build/',
      'deeper build',
      'x.log',
      'c2.ts',
      'local',
      'OUTSIDE',
      'lnkdir/',
      'bin.dat',
    ])
      expect(all).not.toContain(hidden);
    // The walk's order: "a" before "a-c" before "a.txt" (per folder), upper case before lower, "ü" last.
    const paths = all.split('\n').map((l) => l.slice(0, l.indexOf(':')));
    expect(paths).toEqual([...paths].sort(walkOrder));
    expect(paths.indexOf('a/z.txt')).toBeLessThan(paths.indexOf('a-c/z.txt'));
    expect(paths.indexOf('a-c/z.txt')).toBeLessThan(paths.indexOf('a.txt'));
  });

  it('with the shadow’s changes (a .gitignore among them) and mixed-case denied paths', async () => {
    const view = await ws.open().view('s1', ws.root);
    await view.writeFile('src/a.ts', 'const x = 43;\nfoo renamed\n');
    await view.writeFile('src/new.ts', 'foo from the agent\n');
    await view.writeFile('src/.gitignore', 'b.ts\n'); // the walk reads the layer's; rg reads none
    await view.remove('src/sub');
    await view.symlink('src/agent-link.ts', 'new.ts');
    const denied = restrictView(view, [
      { glob: 'secret/**', rule: 'project:deny path=secret/**' }, // the folder is "SeCret"
      { glob: 'PRIVATE', rule: 'project:deny path=PRIVATE' }, // the folder itself, not its files
    ]);
    const [viaWalk, viaSplit, viaLists, inProc] = [
      grepper(denied, 'walk'),
      grepper(denied, 'split'),
      grepper(denied, 'lists'),
      grepper(denied, 'proc'),
    ];
    for (const c of CASES.filter((c) => c.path !== 'src/sub')) {
      const a = await viaWalk(c);
      expect({ c, split: await viaSplit(c) }).toEqual({ c, split: a });
      expect({ c, a }).toEqual({ c, a: await viaLists(c) });
      expect({ c, a }).toEqual({ c, a: await inProc(c) });
    }
    const all = await viaWalk({ pattern: 'foo|43|42' });
    expect(all).toContain('src/a.ts:1: const x = 43;');
    expect(all).toContain('src/new.ts:1: foo from the agent');
    expect(all).toContain('src/agent-link.ts:1: foo from the agent');
    for (const hidden of ['42', 'src/b.ts', 'src/sub', 'secret', 'SeCret', 'private'])
      expect(all).not.toContain(hidden);
  });

  it('skips the folders the last walk found ignored; when the walk now enters one, starts again on the lists path', async () => {
    const view = await ws.open().view('s1', ws.root);
    const [viaWalk, inProc] = [grepper(view, 'walk'), grepper(view, 'proc')];
    await viaWalk({ pattern: 'nothing-matches-this' }); // a complete walk: its ignored folders are remembered
    const before = readFileSync(rgLog, 'utf8').length;
    expect(await viaWalk({ pattern: 'foo' })).toBe(await inProc({ pattern: 'foo' }));
    expect(readFileSync(rgLog, 'utf8').slice(before)).toContain('--glob=!/src/deep/build');
    // The agent's .gitignore no longer excludes build/: the walk enters src/deep/build, which rg skips.
    await view.writeFile('.gitignore', '*.log\n!keep.log\nsub/local.txt\n');
    const listed = listRuns();
    const a = await viaWalk({ pattern: 'foo' });
    expect(a).toBe(await inProc({ pattern: 'foo' }));
    expect(a).toContain('src/deep/build/x.js:1: foo in a deeper build');
    expect(listRuns() - listed).toBeGreaterThan(0); // started again on the lists path
  });

  it('a name rg could sort differently (above U+FFFF) takes the lists path, with the same lines', async () => {
    // rg sorts UTF-8 bytes (U+FF5E before U+1F600), the walk UTF-16 code units (U+1F600's surrogates first):
    // stopped after two lines in rg's order, the emoji file (first in the walk's) would be missing.
    mkdirSync(path.join(ws.root, 'odd'));
    writeFileSync(path.join(ws.root, 'odd', '\u{1F600}.ts'), 'foo emoji\n');
    writeFileSync(path.join(ws.root, 'odd', '\uFF5Ea.ts'), 'foo fullwidth tilde a\n');
    writeFileSync(path.join(ws.root, 'odd', '\uFF5Eb.ts'), 'foo fullwidth tilde b\n');
    const view = await ws.open().view('s1', ws.root);
    const [viaWalk, viaSplit, inProc] = [grepper(view, 'walk'), grepper(view, 'split'), grepper(view, 'proc')];
    for (const c of [{ pattern: 'foo' }, { pattern: 'foo', path: 'odd', max_matches: 1 }]) {
      const a = await viaWalk(c);
      expect({ c, split: await viaSplit(c) }).toEqual({ c, split: a });
      expect({ c, a }).toEqual({ c, a: await inProc(c) });
    }
    expect(await viaWalk({ pattern: 'foo', path: 'odd', max_matches: 1 })).toMatch(
      /^odd\/\u{1F600}\.ts:1: foo emoji\n/u,
    );
    expect(listRuns()).toBeGreaterThanOrEqual(5); // each call ended on the lists path (rg without --sort)
  });

  it('a folder swapped for a link to outside while rg walks: what rg reads through it is dropped', async () => {
    const view = await ws.open().view('s1', ws.root);
    const outside = path.join(ws.top, 'outside');
    writeFileSync(path.join(outside, 'c.ts'), 'foo SECRET through the link\n');
    // The stand-in rg waits until the walk has listed src/sub, swaps it for a link, runs rg (which does
    // not follow a link while walking) and then prints what an rg that opened src/sub/c.ts by name after
    // the swap would have read through it.
    const listed = path.join(ws.top, 'listed');
    const swapping = path.join(ws.top, 'rg-swap');
    writeFileSync(
      swapping,
      [
        '#!/bin/sh',
        `while [ ! -e '${listed}' ]; do sleep 0.01; done`,
        `mv '${ws.root}/src/sub' '${ws.top}/sub-old' && ln -s '${outside}' '${ws.root}/src/sub'`,
        `'${rg}' "$@"`,
        `printf '%s\\0%s\\n' ./src/sub/c.ts '1:foo SECRET through the link'`,
      ].join('\n'),
      { mode: 0o755 },
    );
    const watched: WorkspaceView = {
      root: view.root,
      resolve: (p, i) => view.resolve(p, i),
      stat: (p) => view.stat(p),
      readFile: (p) => view.readFile(p),
      readdir: async (p) => {
        const r = await view.readdir(p);
        if (p === 'src/sub') writeFileSync(listed, '');
        return r;
      },
      writeFile: (p, d, o) => view.writeFile(p, d, o),
      mkdir: (p) => view.mkdir(p),
      remove: (p) => view.remove(p),
      rename: (a, b) => view.rename(a, b),
      symlink: (p, t) => view.symlink(p, t),
      isReal: (p) => view.isReal!(p),
      realFiles: (d) => view.realFiles!(d),
    };
    const tool = createGrepTool({ workers, rg: swapping }) as Tool;
    const r = await tool.handler(
      { pattern: 'foo', path: '', ignore_case: false, max_matches: 200 },
      { sessionId: 's1', workspace: ws.root, view: watched, signal: new AbortController().signal },
    );
    expect(r.content).not.toContain('SECRET');
    expect(r.content).toContain('src/a.ts:2: function foo() {}');
  });
});
