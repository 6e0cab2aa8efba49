// The host command sandbox (`shell`), end to end through a real daemon (tools/call over the socket):
// `shell "true"` against a bare spawn of /bin/true; the sandbox's cost over that spawn on a 1k-file and a
// 100k-file workspace, each with 50 pending files (goal ≤ 30 ms over the bare spawn, flat in repo size);
// `node --test` on a small fixture inside the sandbox against the same command outside. Each row
// interleaves the two over ≥ 5 rounds (median, min–max). SHADOWBOX_BENCH_SHELL_FILES changes the big size.
// Then throughDaemons(): `shell "true"` through two daemons, bubblewrap started from the spawner process against
// SHADOWBOX_SPAWNER=0 (a fork of the daemon per call), with the time each call blocks the daemon's event loop
// (BENCH_SHELL_AB_ONLY=1: only that A/B). Skipped (and said so) where the sandbox cannot run. Needs `npx tsc -b`.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectSocket } from '../clients/editor/dist/index.js';
import { startDaemon } from './lib/daemon.mjs';
import { interleave, interleaveMeasured, row, stats } from './lib/interleave.mjs';
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
  if (process.env.BENCH_SHELL_AB_ONLY) return { name: 'shell', rows: await throughDaemons() };
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
  rows.push(...(await throughDaemons()));
  return { name: 'shell', rows };
}

// Preloaded into both daemons of throughDaemons(): the synchronous part of every child_process spawn (the fork that
// holds the event loop) and the event-loop delay (1 ms resolution); on SIGUSR2 it writes both since the last signal.
const LOOP_PROBE = `
const { ChildProcess } = require('node:child_process');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const fs = require('node:fs');
const file = process.env.SBX_BENCH_SHELL_PROBE;
const spawnOf = ChildProcess.prototype.spawn;
let spawns = [];
ChildProcess.prototype.spawn = function (...a) {
  const t = performance.now();
  try { return spawnOf.apply(this, a); } finally { spawns.push(performance.now() - t); }
};
const h = monitorEventLoopDelay({ resolution: 1 });
h.enable();
process.on('SIGUSR2', () => {
  fs.writeFileSync(file + '.tmp', JSON.stringify({ spawns, max: h.max / 1e6 }));
  fs.renameSync(file + '.tmp', file);
  spawns = [];
  h.reset();
});
if (process.env.SBX_BENCH_SHELL_BALLAST_MIB)
  globalThis.__benchBallast = Array.from({ length: Number(process.env.SBX_BENCH_SHELL_BALLAST_MIB) }, () => Buffer.alloc(1 << 20, 1));
`;

/** What the daemon's probe saw since the last call: its spawns' synchronous ms and the largest event-loop delay. */
async function probeOf(d) {
  const file = d.env.SBX_BENCH_SHELL_PROBE;
  rmSync(file, { force: true });
  process.kill(d.pid, 'SIGUSR2');
  for (let i = 0; i < 500 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 5));
  return JSON.parse(readFileSync(file, 'utf8'));
}

/**
 * `shell "true"` on a 100-file workspace through two real daemons, call by call in alternate order (≥ 9 rounds): this
 * build (bubblewrap started from the spawner process) against the same build with SHADOWBOX_SPAWNER=0 (bubblewrap
 * forked from the daemon). BENCH_SHELL_BALLAST_MIB (comma-separated, default `0,300`) grows both daemons by that much
 * touched memory first. Per call: wall time, the daemon's synchronous spawn time and its largest event-loop delay.
 */
export async function throughDaemons() {
  const rounds = Math.max(9, Number(process.env.BENCH_SHELL_AB_ROUNDS ?? 11));
  const rows = [];
  const top = mkdtempSync(path.join(os.tmpdir(), 'sbx-bench-shell-ab-'));
  const probe = path.join(top, 'probe.cjs');
  writeFileSync(probe, LOOP_PROBE);
  const ws = path.join(top, 'ws');
  mkdirSync(ws);
  generate(ws, 100);
  try {
    for (const mib of (process.env.BENCH_SHELL_BALLAST_MIB ?? '0,300').split(',').map(Number)) {
      const daemons = [];
      for (const [name, extra] of [
        ['spawner', {}],
        ['direct', { SHADOWBOX_SPAWNER: '0' }],
      ]) {
        const env = { ...extra, SBX_BENCH_SHELL_PROBE: path.join(top, `${name}-${mib}.json`) };
        if (mib > 0) env.SBX_BENCH_SHELL_BALLAST_MIB = String(mib);
        daemons.push(await startDaemon(env, ['--no-web'], ['--require', probe]));
      }
      try {
        const callers = [];
        for (const d of daemons) {
          const c = await connectSocket(d.socketPath);
          await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
          const status = await c.request({ method: 'daemon/status' }, {});
          const sb = status.sandboxes?.find((s) => s.name === 'shell');
          if (!sb?.available) return [{ metric: `skipped: the host sandbox cannot run here`, value: 0 }];
          const { sessionId } = await c.request({ method: 'session/create' }, { workspace: ws });
          const seen = { spawnMs: [], spawns: 0, max: [] };
          const call = async () => {
            await probeOf(d); // the window starts here
            const t = performance.now();
            const r = await c.request(
              { method: 'tools/call' },
              { sessionId, tool: 'shell', input: { command: 'true' } },
            );
            const ms = performance.now() - t;
            if (r.data?.exitCode !== 0) throw new Error(`shell true failed: ${r.content}`);
            const p = await probeOf(d);
            seen.spawnMs.push(p.spawns.reduce((a, b) => a + b, 0));
            seen.spawns += p.spawns.length;
            seen.max.push(p.max);
            return ms;
          };
          callers.push({ c, call, seen });
        }
        for (const { call } of callers) for (let i = 0; i < 3; i++) await call(); // warm (and the spawner up)
        for (const { seen } of callers) Object.assign(seen, { spawnMs: [], spawns: 0, max: [] });
        const m = await interleaveMeasured(rounds, callers[0].call, callers[1].call);
        const f = (xs) => {
          const s = stats(xs);
          return `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
        };
        const [a, b] = callers.map((x) => x.seen);
        const rss = daemons.map((d) => Math.round(d.rss() / 1048576));
        rows.push(
          row(
            `shell "true" through the daemon, bubblewrap from the spawner process${mib ? `, daemons grown by ${mib} MiB` : ''}`,
            m,
            `vs SHADOWBOX_SPAWNER=0 (forked from the daemon); daemon RSS ${rss[0]} vs ${rss[1]} MiB; ` +
              `per call, median (min–max) ms: the daemon's synchronous spawn time ${f(a.spawnMs)} (${a.spawns} spawns in ${rounds} calls) vs ${f(b.spawnMs)} (${b.spawns}), ` +
              `its largest event-loop delay ${f(a.max)} vs ${f(b.max)}; load ${os.loadavg()[0].toFixed(2)}`,
          ),
        );
        for (const { c } of callers) c.dispose();
      } finally {
        for (const d of daemons) await d.stop();
      }
    }
  } finally {
    rmSync(top, { recursive: true, force: true });
  }
  return rows;
}
