// Shadow workspace benchmarks on synthetic repositories (1k and 10k files; 100k with SHADOWBOX_BENCH_BIG=1;
// any sizes with SHADOWBOX_BENCH_SIZES=1000,10000,100000):
// session start, write + checkpoint of 1 and 50 files, diff, accept — against, in the same run, a
// Cline-style checkpoint (`git add -A && git commit` in a separate git dir over the whole tree, then
// `git diff`) and `git worktree add`. Also disk used per checkpoint.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createShadowService } from '../daemon/dist/shadow/index.js';

const logger = { info() {}, warn() {}, error() {}, debug() {}, close: async () => {} };
const audit = { append: async () => {} };
// gc.auto=0: a background auto-gc would skew the timings and race the clean-up.
const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'b',
  GIT_AUTHOR_EMAIL: 'b@b',
  GIT_COMMITTER_NAME: 'b',
  GIT_COMMITTER_EMAIL: 'b@b',
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'gc.auto',
  GIT_CONFIG_VALUE_0: '0',
};
const git = (cwd, ...args) =>
  execFileSync('git', args, { cwd, env: gitEnv, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 }).toString();
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

async function measure(n) {
  const top = mkdtempSync(path.join(os.tmpdir(), `sbx-bench-shadow-${n}-`));
  const root = path.join(top, 'ws');
  mkdirSync(root);
  const rows = [];
  const row = (metric, value, unit, baseline, note) =>
    rows.push({
      metric: `${metric} (${n} files)`,
      value,
      unit,
      ...(baseline !== undefined ? { baseline, ratio: value / baseline } : {}),
      ...(note ? { note } : {}),
    });
  try {
    generate(root, n);
    const stateDir = path.join(top, 'state');
    const svc = createShadowService({ stateDir, audit, logger });
    const [startMs, view] = await time(async () => {
      const v = await svc.view('bench', root);
      await v.readFile(fileOf(0));
      return v;
    });
    const [wtMs] = await time(() => git(root, 'worktree', 'add', '-q', '--detach', path.join(top, 'wt')));
    row('session start (view + first read)', startMs, 'ms', wtMs, 'baseline: git worktree add');
    const t = { sessionId: 'bench', workspace: root };
    const [w1] = await time(() => view.writeFile(fileOf(1), body(1, ' // edited')));
    const [c1] = await time(() => svc.checkpoint('bench', root, 't1', 'one file'));
    const cp1 = w1 + c1;
    const diskBefore = du(stateDir);
    const shadowGit = path.join(
      stateDir,
      'workspaces',
      readdirSync(path.join(stateDir, 'workspaces'))[0],
      'shadow.git',
    );
    const historyBefore = du(shadowGit);
    const [w50] = await time(async () => {
      for (let i = 100; i < 150; i++) await view.writeFile(fileOf(i), body(i, ' // edited'));
    });
    const [c50] = await time(() => svc.checkpoint('bench', root, 't2', 'fifty files'));
    const cp50 = w50 + c50;
    const shadowDisk = du(stateDir) - diskBefore;
    const historyDisk = du(shadowGit) - historyBefore;
    const [diffMs, d] = await time(() => svc.diff(t));
    const [acceptMs] = await time(() => svc.accept(t, { paths: [], hunks: [], force: false }, 'bench'));
    await svc.close();

    // Cline-style: a separate git dir whose work tree is the whole workspace.
    const cline = path.join(top, 'cline.git');
    const cg = (...args) => git(root, `--git-dir=${cline}`, `--work-tree=${root}`, ...args);
    cg('init', '-q');
    const [clineInit] = await time(() => (cg('add', '-A'), cg('commit', '-qm', 'init', '--allow-empty')));
    writeFileSync(path.join(root, fileOf(2)), body(2, ' // edited'));
    const [cl1] = await time(() => (cg('add', '-A'), cg('commit', '-qm', 'one')));
    const clineBefore = du(cline);
    for (let i = 200; i < 250; i++) writeFileSync(path.join(root, fileOf(i)), body(i, ' // edited'));
    const [cl50] = await time(() => (cg('add', '-A'), cg('commit', '-qm', 'fifty')));
    const clineDisk = du(cline) - clineBefore;
    const [clDiff] = await time(() => cg('diff', 'HEAD~1', 'HEAD'));

    row('write + checkpoint, 1 file', cp1, 'ms', cl1, 'baseline: Cline-style git add -A && git commit');
    row('write + checkpoint, 50 files', cp50, 'ms', cl50, 'baseline: Cline-style git add -A && git commit');
    row('checkpoint alone, 1 file', c1, 'ms', cl1, 'first checkpoint of the session (also writes the base commit)');
    row('checkpoint alone, 50 files', c50, 'ms', cl50, 'includes the base commit of the 50 files');
    row(
      'layer write, per file',
      w50 / 50,
      'ms',
      undefined,
      'base snapshot of the real file + new bytes (blobs.dat records) + manifest log line',
    );
    row(
      'diff of 50 pending files',
      diffMs,
      'ms',
      clDiff,
      `${d.files.length} files, ${d.files.reduce((a, f) => a + f.hunks.length, 0)} hunks; baseline: git diff HEAD~1 HEAD`,
    );
    row('accept 50 files', acceptMs, 'ms', undefined, 'staged temps + journal + renames + undo backups');
    row(
      'disk per checkpoint of 50 files',
      shadowDisk / 1024,
      'KiB',
      clineDisk / 1024,
      'state dir growth (layer: 50 bases + 50 new versions; history: one pack) vs Cline shadow git dir growth',
    );
    row(
      'disk per checkpoint of 50 files, history only',
      historyDisk / 1024,
      'KiB',
      clineDisk / 1024,
      'shadow.git growth (one pack + index per checkpoint) vs Cline shadow git dir growth',
    );
    row('Cline-style first checkpoint', clineInit, 'ms', undefined, 'one-time cost shadowbox does not pay');
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
