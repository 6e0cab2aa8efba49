// WASI runtime: warm invocation latency of a small C tool (goal ≤ 2 ms p50) against spawning the
// same program compiled natively; a ~7 MB module's first run, and its warm runs against the small probe's; netFetch
// cost per call from a guest against Node's http.get without keep-alive to the same local server (fetch with
// keep-alive beside it); throughput with 1 and 2 busy workers. Rows with an alternative interleave it round by round.
// Modules are built from daemon/src/wasi/fixtures/*.c with Debian's clang-19.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNetFetch } from '../daemon/dist/net/index.js';
import { createWasiRuntime } from '../daemon/dist/wasi/index.js';
import { interleaveMeasured, row } from './lib/interleave.mjs';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const FIX = join(ROOT, 'daemon/src/wasi/fixtures');
const LIMITS = { wallMs: 10_000, memoryBytes: 64 << 20, stdoutBytes: 1 << 20, stderrBytes: 1 << 20 };

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))];
};
const round = (x) => Math.round(x * 1000) / 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function run() {
  execFileSync('sh', [join(FIX, 'build.sh'), 'probe', 'fetch', 'big']);
  const probe = readFileSync(join(FIX, 'out/probe.wasm'));
  const fetchMod = readFileSync(join(FIX, 'out/fetch.wasm'));
  const big = readFileSync(join(FIX, 'out/big.wasm'));
  const tmp = mkdtempSync(join(tmpdir(), 'sbx-bench-wasi-'));
  const nativeProbe = join(tmp, 'probe-native');
  execFileSync('clang-19', ['-O2', '-o', nativeProbe, join(FIX, 'probe.c')]);

  const server = http.createServer((_q, s) => s.end('pong'));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  const url = `http://127.0.0.1:${port}/`;
  const rules = [{ host: '127.0.0.1', scheme: 'http', port }];
  const rt = createWasiRuntime({ poolSize: 2, netFetch: createNetFetch() });
  const rows = [];
  try {
    rt.warm();
    await sleep(300);
    const runProbe = (argv = ['echo', 'hi']) =>
      rt.run({ module: { bytes: probe }, mounts: { tmp: true }, argv: ['probe', ...argv], limits: LIMITS });
    await runProbe();

    // 1. Warm latency (sequential; a ready worker is waiting each time thanks to the pause), interleaved
    // round by round with spawning the native build: each round's p50 of 8 runs.
    // The p50 of `runs` warm runs of `fn`, each after a pause that lets the pool refill (spawn ~40 ms) so that each
    // measures a warm start; every time is added to `times` when given.
    const warmP50 = (fn, runs, times) => async () => {
      const ts = [];
      for (let i = 0; i < runs; i++) {
        await sleep(60);
        const t0 = performance.now();
        await fn();
        ts.push(performance.now() - t0);
      }
      times?.push(...ts);
      return pct(ts, 50);
    };
    const warm = [];
    const p50Warm = warmP50(() => runProbe(), 8, warm);
    const p50Native = async () => {
      const ts = [];
      for (let i = 0; i < 8; i++) {
        const t0 = performance.now();
        execFileSync(nativeProbe, ['echo', 'hi']);
        ts.push(performance.now() - t0);
      }
      return pct(ts, 50);
    };
    rows.push(
      row(
        'warm invocation p50 (probe echo), per round',
        await interleaveMeasured(7, p50Warm, p50Native),
        'vs spawning the same C program compiled natively; 8 runs a round; goal ≤ 2 ms',
      ),
    );
    rows.push({ metric: 'warm invocation p95', value: round(pct(warm, 95)), unit: 'ms' });

    // 2. ~7 MB module: first run (compile + cap rewrite + instantiate), then its warm runs interleaved round by round
    // with the 42 KB probe's (each side's p50 of 3 warm runs a round).
    const runBig = () => rt.run({ module: { bytes: big }, mounts: {}, argv: ['big'], limits: LIMITS });
    await sleep(100);
    const t = performance.now();
    await runBig();
    const bigFirst = performance.now() - t;
    let bigTimings;
    rows.push({
      metric: `7 MB module (${(big.byteLength / 1e6).toFixed(1)} MB) first run`,
      value: round(bigFirst),
      unit: 'ms',
      note: 'hash + memory-cap rewrite + compile + instantiate + run',
    });
    const bigVsProbe = await interleaveMeasured(
      7,
      warmP50(async () => (bigTimings = (await runBig()).timings), 3),
      warmP50(() => runProbe(), 3),
    );
    rows.push(
      row(
        '7 MB module warm run p50, per round',
        bigVsProbe,
        `vs the 42 KB probe's warm run; 3 runs a side a round; the 7 MB are mostly a data segment (copied at instantiate); in the worker, the last run: instantiate ${round(bigTimings.instantiateMs)} ms, run ${round(bigTimings.runMs)} ms`,
      ),
    );

    // 3. netFetch per call: (run with 101 calls - run with 1 call) / 100, vs Node in the same run.
    const runFetch = (n) =>
      rt.run({
        module: { bytes: fetchMod },
        mounts: {},
        argv: ['fetch', url, '65536', String(n)],
        limits: LIMITS,
        netFetch: { allowed: true, rules },
      });
    await sleep(100);
    await runFetch(1);
    // A guest's netFetch call: (a run making 101 calls − a run making 1) / 100, interleaved round by round with Node's
    // http.get without keep-alive (a new connection per request, as netFetch makes; p50 of 20 a round), in µs (row()
    // keeps one decimal). Node's fetch with keep-alive (20 calls a round in the same rounds, the p50 of all of them) is
    // given beside it: what a reused connection saves.
    const keepAlive = [];
    const perCallNet = async () => {
      await sleep(60);
      let a = performance.now();
      await runFetch(1);
      const one = performance.now() - a;
      await sleep(60);
      a = performance.now();
      await runFetch(101);
      return ((performance.now() - a - one) / 100) * 1000;
    };
    const perCallHttp = async () => {
      const ts = [];
      for (let i = 0; i < 20; i++) {
        const a = performance.now();
        await new Promise((res, rej) =>
          http
            .get(url, { agent: false }, (r) => {
              r.resume();
              r.on('end', res);
            })
            .on('error', rej),
        );
        ts.push(performance.now() - a);
      }
      for (let i = 0; i < 20; i++) {
        const a = performance.now();
        await (await fetch(url)).text();
        keepAlive.push(performance.now() - a);
      }
      return pct(ts, 50) * 1000;
    };
    const net = await interleaveMeasured(5, perCallNet, perCallHttp);
    rows.push(
      row(
        'netFetch per call from a guest',
        net,
        `vs Node http.get without keep-alive (a new connection per request, as netFetch opens; p50 of 20 a round); Node fetch with keep-alive in the same rounds: p50 ${Math.round(pct(keepAlive, 50) * 1000)} µs`,
        'µs',
      ),
    );

    // 4. Throughput: 120 runs, 1 at a time vs 2 at a time; single-use workers (default: each
    // run pays a ~40 ms worker spawn in the background) vs workers reused after clean runs.
    const reuse = createWasiRuntime({ poolSize: 2, maxRunsPerWorker: 1000 });
    reuse.warm();
    await sleep(300);
    try {
      for (const [label, r] of [
        ['single-use workers', rt],
        ['reused workers', reuse],
      ]) {
        for (const conc of [1, 2]) {
          const n = 120;
          let next = 0;
          const a = performance.now();
          await Promise.all(
            [...Array(conc)].map(async () => {
              while (next++ < n)
                await r.run({
                  module: { bytes: probe },
                  mounts: { tmp: true },
                  argv: ['probe', 'echo', 'hi'],
                  limits: LIMITS,
                });
            }),
          );
          const s = (performance.now() - a) / 1000;
          rows.push({
            metric: `throughput, ${conc} concurrent, ${label}`,
            value: round(n / s),
            unit: 'runs/s',
            note:
              label === 'reused workers'
                ? 'maxRunsPerWorker: 1000 (fresh instance and file systems per run, same JS isolate)'
                : 'default; bounded by spawning a replacement worker per run on 2 shared cores',
          });
        }
      }
      const lat = [];
      for (let i = 0; i < 40; i++) {
        const a = performance.now();
        await reuse.run({
          module: { bytes: probe },
          mounts: { tmp: true },
          argv: ['probe', 'echo', 'hi'],
          limits: LIMITS,
        });
        lat.push(performance.now() - a);
      }
      rows.push({ metric: 'warm invocation p50, reused workers', value: round(pct(lat, 50)), unit: 'ms' });
    } finally {
      await reuse.close();
    }
  } finally {
    await rt.close();
    server.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  return { name: 'wasi', rows };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await run();
  console.table(r.rows);
}
