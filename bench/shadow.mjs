// Shadow workspace benchmarks on synthetic repositories (1k and 10k files; 100k with SHADOWBOX_BENCH_BIG=1;
// any sizes with SHADOWBOX_BENCH_SIZES=1000,10000,100000):
// session start, write + checkpoint of 1 and 50 files, diff, accept — each interleaved over ≥ 5 rounds
// with a Cline-style checkpoint (`git add -A && git commit` in a separate git dir over a copy of the
// tree, then `git diff`) or `git worktree add`. Also disk used per checkpoint.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createShadowService } from '../daemon/dist/shadow/index.js';
import { git } from './lib/git.mjs';

const logger = { info() {}, warn() {}, error() {}, debug() {}, close: async () => {} };
const audit = { append: async () => {} };
const du = (p) => Number(execFileSync('du', ['-sk', p]).toString().split('\t')[0]) * 1024;
const body = (i, tag = '') =>
  Array.from({ length: 30 }, (_, l) => `export const v${l} = ${i * 31 + l}; // file ${i}${l === 15 ? tag : ''}`).join(
    '\n',
  ) + '\n';
const fileOf = (i) => `src/d${Math.floor(i / 100)}/f${i}.ts`;

function generate(root, n) {
  for (let d = 0; d * 100 < n; d++) mkdirSync(path.join(root, `src/d${d}`), { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(path.join(root, fileOf(i)), body(i));
  git(root, 'init', '-q', '-b', 'main');
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', 'initial');
}

async function time(fn) {
  const t = performance.now();
  const r = await fn();
  return [performance.now() - t, r];
}

const CP_ROUNDS = Number(process.env.SHADOWBOX_BENCH_CP_ROUNDS ?? 5);

/**
 * One size: every measurement is interleaved with its alternative over CP_ROUNDS rounds (the order flips
 * each round). The Cline-style side works on its own copy of the repository, so the files shadowbox
 * accepts never enter its commits.
 */
async function measure(n) {
  const top = mkdtempSync(path.join(os.tmpdir(), `sbx-bench-shadow-${n}-`));
  const root = path.join(top, 'ws');
  const clineRoot = path.join(top, 'cline-ws');
  mkdirSync(root);
  const r1 = (x) => Math.round(x * 10) / 10;
  const rows = [];
  const pair = (metric, a, b, unit, note) => {
    const sa = stats(a);
    const sb = stats(b);
    rows.push({
      metric: `${metric} (${n} files)`,
      value: sa.median,
      unit,
      baseline: sb.median,
      ratio: sa.median / sb.median,
      note: `${note}; ${a.length} interleaved rounds: ${r1(sa.min)}–${r1(sa.max)} vs ${r1(sb.min)}–${r1(sb.max)}`,
    });
  };
  try {
    generate(root, n);
    execFileSync('cp', ['-a', root, clineRoot]);
    const stateDir = path.join(top, 'state');
    const svc = createShadowService({ stateDir, audit, logger });
    const starts = [];
    const worktrees = [];
    for (let r = 0; r < CP_ROUNDS; r++) {
      const shadowStart = async () => {
        const [ms] = await time(async () => (await svc.view(`start${r}`, root)).readFile(fileOf(0)));
        starts.push(ms);
      };
      const wt = path.join(top, `wt${r}`);
      const worktree = async () => {
        const [ms] = await time(() => git(root, 'worktree', 'add', '-q', '--detach', wt));
        worktrees.push(ms);
      };
      for (const f of r % 2 ? [worktree, shadowStart] : [shadowStart, worktree]) await f();
      git(root, 'worktree', 'remove', '--force', wt);
    }
    pair('session start (view + first read)', starts, worktrees, 'ms', 'baseline: git worktree add');

    const view = await svc.view('bench', root);
    const t = { sessionId: 'bench', workspace: root };
    const cline = path.join(top, 'cline.git');
    const cg = (...args) => git(clineRoot, `--git-dir=${cline}`, `--work-tree=${clineRoot}`, ...args);
    cg('init', '-q');
    const [clineInit] = await time(() => (cg('add', '-A'), cg('commit', '-qm', 'init', '--allow-empty')));
    const shadowGit = () =>
      path.join(stateDir, 'workspaces', readdirSync(path.join(stateDir, 'workspaces'))[0], 'shadow.git');
    const m = { cp1: [], cp50: [], c50: [], diff: [], accept: [], disk: [], history: [] };
    const c = { cp1: [], cp50: [], diff: [], disk: [] };
    let hunks = 0;
    let pending = 0;
    for (let r = 0; r < CP_ROUNDS; r++) {
      const fifty = Array.from({ length: 50 }, (_, k) => 100 + r * 50 + k);
      const ours = async () => {
        const [w1] = await time(() => view.writeFile(fileOf(10 + r), body(10 + r, ` // edited ${r}`)));
        const [c1] = await time(() => svc.checkpoint('bench', root, `a${r}`, 'one file'));
        m.cp1.push(w1 + c1);
        const diskBefore = du(stateDir);
        const historyBefore = du(shadowGit()); // there since the 1-file checkpoint
        const [w50] = await time(async () => {
          for (const i of fifty) await view.writeFile(fileOf(i), body(i, ' // edited'));
        });
        const [c50] = await time(() => svc.checkpoint('bench', root, `b${r}`, 'fifty files'));
        m.cp50.push(w50 + c50);
        m.c50.push(c50);
        m.disk.push((du(stateDir) - diskBefore) / 1024);
        m.history.push((du(shadowGit()) - historyBefore) / 1024);
        const [diffMs, d] = await time(() => svc.diff(t));
        m.diff.push(diffMs);
        pending = d.files.length;
        hunks = d.files.reduce((a, f) => a + f.hunks.length, 0);
        const [acceptMs] = await time(() => svc.accept(t, { paths: [], hunks: [], force: false }, 'bench'));
        m.accept.push(acceptMs);
      };
      const theirs = async () => {
        writeFileSync(path.join(clineRoot, fileOf(10 + r)), body(10 + r, ` // edited ${r}`));
        c.cp1.push((await time(() => (cg('add', '-A'), cg('commit', '-qm', 'one'))))[0]);
        const before = du(cline);
        const [w50] = await time(() => {
          for (const i of fifty) writeFileSync(path.join(clineRoot, fileOf(i)), body(i, ' // edited'));
        });
        const [cl50] = await time(() => (cg('add', '-A'), cg('commit', '-qm', 'fifty')));
        c.cp50.push(w50 + cl50);
        c.disk.push((du(cline) - before) / 1024);
        c.diff.push((await time(() => cg('diff', 'HEAD~2', 'HEAD')))[0]);
      };
      for (const f of r % 2 ? [theirs, ours] : [ours, theirs]) await f();
    }
    await svc.close();

    const cl = 'baseline: Cline-style git add -A && git commit';
    pair('write + checkpoint, 1 file', m.cp1, c.cp1, 'ms', `${cl} (round 1 also writes the base commit)`);
    pair('write + checkpoint, 50 files', m.cp50, c.cp50, 'ms', cl);
    pair('checkpoint alone, 50 files', m.c50, c.cp50, 'ms', `${cl} (with its writes)`);
    pair(
      `diff of ${pending} pending files`,
      m.diff,
      c.diff,
      'ms',
      `${pending} files, ${hunks} hunks; baseline: git diff HEAD~2 HEAD (the same 51 files)`,
    );
    rows.push({
      metric: `accept ${pending} files (${n} files)`,
      value: stats(m.accept).median,
      unit: 'ms',
      note: `staged temps + journal + renames + undo backups; ${CP_ROUNDS} rounds: ${r1(stats(m.accept).min)}–${r1(stats(m.accept).max)} (vs git apply: bench/bigrepo.mjs)`,
    });
    pair(
      'disk per checkpoint of 50 files',
      m.disk,
      c.disk,
      'KiB',
      'state dir growth (layer: 50 bases + 50 new versions; history: one pack) vs Cline shadow git dir growth',
    );
    pair(
      'disk per checkpoint of 50 files, history only',
      m.history,
      c.disk,
      'KiB',
      'shadow.git growth (one pack + index per checkpoint) vs Cline shadow git dir growth',
    );
    rows.push({
      metric: `Cline-style first checkpoint (${n} files)`,
      value: clineInit,
      unit: 'ms',
      note: 'one-time cost shadowbox does not pay (one run)',
    });
  } finally {
    rmSync(top, { recursive: true, force: true, maxRetries: 5 });
  }
  return rows;
}

/** Median and range of a list of timings. */
function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
}

/**
 * The cost of reading the person's files without following a symlink: O_NOFOLLOW, then the opened
 * descriptor's real path (/proc/self/fd/N) must be the path asked for (RealFs, every real read of the
 * view, accept and review) — against a plain fs.readFile of the same files, interleaved over ROUNDS
 * rounds (the order alternates), 1,000 files of 2 KiB three folders deep per round. Also the whole
 * view.readFile (resolve + checked open + read snapshot) and view.stat (lstat with the parent checked).
 */
async function safeReadRows() {
  const ROUNDS = Number(process.env.SHADOWBOX_BENCH_ROUNDS ?? 7);
  const { RealFs } = await import('../daemon/dist/shadow/real-fs.js');
  const { readFile, lstat } = await import('node:fs/promises');
  const top = mkdtempSync(path.join(os.tmpdir(), 'sbx-bench-read-'));
  const root = path.join(top, 'ws');
  const files = Array.from({ length: 1000 }, (_, i) => `a${i % 10}/b${i % 7}/c${i % 3}/f${i}.txt`);
  for (const f of files) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), 'x'.repeat(2048));
  }
  const real = new RealFs(root);
  const svc = createShadowService({ stateDir: path.join(top, 'state'), audit, logger });
  const view = await svc.view('bench', root);
  const alternatives = {
    'fs.readFile': async () => {
      for (const f of files) await readFile(path.join(root, f));
    },
    'RealFs.readFile': async () => {
      for (const f of files) await real.readFile(f);
    },
    'view.readFile': async () => {
      for (const f of files) await view.readFile(f);
    },
    lstat: async () => {
      for (const f of files) await lstat(path.join(root, f));
    },
    'view.stat': async () => {
      for (const f of files) await view.stat(f);
    },
  };
  const times = Object.fromEntries(Object.keys(alternatives).map((k) => [k, []]));
  try {
    for (const fn of Object.values(alternatives)) await fn(); // warm the page cache and the layer's read snapshots
    for (let r = 0; r < ROUNDS; r++) {
      const order = Object.keys(alternatives);
      if (r % 2) order.reverse();
      for (const k of order) {
        const t = performance.now();
        await alternatives[k]();
        times[k].push((performance.now() - t) / files.length);
      }
    }
  } finally {
    await svc.close();
    rmSync(top, { recursive: true, force: true });
  }
  const st = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, stats(v)]));
  const us = (x) => x * 1000;
  const row = (metric, k, base, note) => ({
    metric,
    value: us(st[k].median),
    unit: 'µs/file',
    baseline: us(st[base].median),
    ratio: st[k].median / st[base].median,
    note: `${note}; ${ROUNDS} interleaved rounds of 1,000 files, min–max ${us(st[k].min).toFixed(1)}–${us(st[k].max).toFixed(1)} vs ${us(st[base].min).toFixed(1)}–${us(st[base].max).toFixed(1)} µs`,
  });
  return [
    row(
      'real read, O_NOFOLLOW + descriptor real path checked',
      'RealFs.readFile',
      'fs.readFile',
      'baseline: fs.readFile',
    ),
    row(
      'view.readFile of a real file (resolve, checked open, read snapshot)',
      'view.readFile',
      'fs.readFile',
      'baseline: fs.readFile',
    ),
    row('view.stat of a real file (resolve: one lstat per component)', 'view.stat', 'lstat', 'baseline: fs.lstat'),
  ];
}

export async function run() {
  const sizes = process.env.SHADOWBOX_BENCH_SIZES?.split(',').map(Number) ?? [
    1000,
    10000,
    ...(process.env.SHADOWBOX_BENCH_BIG ? [100000] : []),
  ];
  const rows = [];
  if (!process.env.SHADOWBOX_BENCH_ONLY_READS) for (const n of sizes) rows.push(...(await measure(n)));
  rows.push(...(await safeReadRows()));
  return { name: 'shadow', rows };
}
