// The host command sandbox (`shell`), end to end through a real daemon (tools/call over the socket):
// `shell "true"` against a bare spawn of /bin/true; the sandbox's cost over that spawn on a 1k-file and a
// 100k-file workspace, each with 50 pending files (goal ≤ 30 ms over the bare spawn, flat in repo size);
// `node --test` on a small fixture inside the sandbox against the same command outside. Each row
// interleaves the two over ≥ 5 rounds (median, min–max). SHADOWBOX_BENCH_SHELL_FILES changes the big size.
// Skipped (and said so) where the sandbox cannot run. Needs `npx tsc -b`.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectSocket } from '../clients/editor/dist/index.js';
import { startDaemon } from './lib/daemon.mjs';
import { interleave, row, stats } from './lib/interleave.mjs';
import { git } from './lib/git.mjs';

const ROUNDS = 11;
const BIG = Number(process.env.SHADOWBOX_BENCH_SHELL_FILES ?? 100_000);
const PENDING = 50;

const fileOf = (i) => `src/d${Math.floor(i / 100)}/f${i}.ts`;

/** A git repository of `n` small files. */
function generate(root, n) {
  for (let d = 0; d * 100 < n; d++) mkdirSync(path.join(root, `src/d${d}`), { recursive: true });
  for (let i = 0; i < n; i++) writeFileSync(path.join(root, fileOf(i)), `export const v = ${i};\n`);
  git(root, 'init', '-q', '-b', 'main');
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', 'initial');
}

/** A Node project with five `node --test` files. */
function nodeFixture(root) {
  writeFileSync(path.join(root, 'package.json'), '{"name":"fixture","type":"module"}\n');
  writeFileSync(path.join(root, 'sum.js'), 'export const sum = (a, b) => a + b;\n');
  mkdirSync(path.join(root, 'test'));
  for (let i = 0; i < 5; i++)
    writeFileSync(
      path.join(root, 'test', `t${i}.test.js`),
      `import test from 'node:test';\nimport assert from 'node:assert';\nimport { sum } from '../sum.js';\n` +
        `test('sum ${i}', () => assert.strictEqual(sum(${i}, 1), ${i + 1}));\n`,
    );
  git(root, 'init', '-q', '-b', 'main');
  git(root, 'add', '-A');
  git(root, 'commit', '-qm', 'initial');
}

/** Spawns a program and waits for its exit (the bare alternative). */
function bare(file, args, cwd) {
  return new Promise((resolve, reject) => {
    const c = spawn(file, args, { cwd, stdio: 'ignore' });
    c.on('error', reject);
    c.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${file} exited ${code}`))));
  });
}

export async function run() {
  const rows = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sbx-bench-shell-'));
  const daemon = await startDaemon({}, ['--no-web']);
  const c = await connectSocket(daemon.socketPath);
  await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
  try {
    const status = await c.request({ method: 'daemon/status' }, {});
    const sb = status.sandboxes?.find((s) => s.name === 'shell');
    if (!sb?.available)
      return {
        name: 'shell',
        rows: [{ metric: `skipped: the host sandbox cannot run here (${sb?.missing.join('; ')})`, value: 0 }],
      };
    const sessionOn = async (ws) => (await c.request({ method: 'session/create' }, { workspace: ws })).sessionId;
    const call = (sessionId, tool, input) => c.request({ method: 'tools/call' }, { sessionId, tool, input });
    // `timings` of each run (the daemon's own split): pending layer written, sandbox + command, writes read back.
    const shell = async (sessionId, command, timings) => {
      const r = await call(sessionId, 'shell', { command });
      if (r.data?.exitCode !== 0) throw new Error(`shell ${command} failed: ${r.content}`);
      timings?.push(r.data.timings);
    };
    const split = (ts) => {
      const f = (k) => {
        const s = stats(ts.map((t) => t[k]));
        return `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
      };
      return `in the daemon, median (min–max) ms: pending layer ${f('setupMs')}, sandbox + command ${f('runMs')}, writes read back ${f('applyMs')}`;
    };

    // 1. `shell "true"` on a small workspace vs spawning /bin/true.
    const small = path.join(tmp, 'small');
    mkdirSync(small);
    generate(small, 100);
    const s1 = await sessionOn(small);
    for (let i = 0; i < 3; i++) await shell(s1, 'true');
    const t1 = [];
    rows.push(
      row(
        'shell "true" end to end (tools/call → sandbox → result), 100-file workspace',
        await interleave(
          ROUNDS,
          () => shell(s1, 'true', t1),
          () => bare('/bin/true', [], small),
        ),
        `baseline: spawn /bin/true and wait for its exit, from the bench process; ${split(t1)}`,
      ),
    );

    // 2. The same with 50 pending files, on 1k and on BIG files: flat in repo size?
    for (const n of [1000, BIG]) {
      const ws = path.join(tmp, `ws${n}`);
      mkdirSync(ws);
      generate(ws, n);
      const sid = await sessionOn(ws);
      for (let i = 0; i < PENDING; i++)
        await call(sid, 'write_file', { path: fileOf(i * Math.floor(n / PENDING)), content: `edited ${i}\n` });
      for (let i = 0; i < 3; i++) await shell(sid, 'true');
      const ts = [];
      const m = await interleave(
        ROUNDS,
        () => shell(sid, 'true', ts),
        () => bare('/bin/true', [], ws),
      );
      const over = m.subject.median - m.baseline.median;
      // What any tool call costs on this session (the daemon's part without a sandbox): a read_file, 5 times.
      const reads = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        await call(sid, 'read_file', { path: fileOf(1) });
        reads.push(performance.now() - t);
      }
      const rd = stats(reads);
      rows.push(
        row(
          `shell "true", ${n.toLocaleString('en')}-file workspace, ${PENDING} pending files`,
          m,
          `over the bare spawn: ${over.toFixed(1)} ms (goal ≤ 30 ms); ${split(ts)}; a read_file tools/call on the same session ${rd.median.toFixed(1)} (${rd.min.toFixed(1)}–${rd.max.toFixed(1)})`,
        ),
      );
    }

    // 3. `node --test` on a fixture, inside the sandbox vs the same command outside.
    const fx = path.join(tmp, 'fixture');
    mkdirSync(fx);
    nodeFixture(fx);
    const s3 = await sessionOn(fx);
    await shell(s3, 'node --test');
    rows.push(
      row(
        'node --test (5 test files) inside the sandbox, through the daemon',
        await interleave(
          ROUNDS,
          () => shell(s3, 'node --test'),
          () => bare(process.execPath, ['--test'], fx),
        ),
        'baseline: the same `node --test` spawned in the same folder outside',
      ),
    );
  } finally {
    c.dispose();
    await daemon.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  return { name: 'shell', rows };
}
