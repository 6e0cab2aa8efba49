// Python benchmarks: shadowbox's sandboxed CPython (pre-initialized python.wasm in a fresh
// in-memory WASI instance per call) against native python3, each row interleaving the two over
// ≥ 5 rounds (median, min–max of each), plus Pyodide (npm) for reference. Metrics: print(1+1) in the
// library, through the daemon, as a whole `shadowbox python -c` command and first after a daemon
// start; a 1 MB CSV aggregation; a CPU loop. Ratio = median / native median (lower is better).
// Needs `npx tsc -b` and a built python bundle (`node bundles/scripts/build.mjs python`).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connectSocket } from '../clients/editor/dist/index.js';
import { bin, HUGETLB_ALTERNATIVE, launcher, NO_NODE_PATH, startEnvOf } from './lib/daemon.mjs';
import { interleave, interleaveMeasured, row, stats, time } from './lib/interleave.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'daemon', 'dist', 'python');
const execFileP = promisify(execFile);
const NATIVE = '/usr/bin/python3';

const CSV_CODE = [
  'import csv, collections',
  'tot = collections.Counter(); n = collections.Counter()',
  'for r in csv.DictReader(open("data.csv")):',
  '    tot[r["city"]] += float(r["amount"]); n[r["city"]] += 1',
  'print(len(tot), round(sum(tot.values()), 2))',
].join('\n');
const CPU_CODE = 's = 0\nfor i in range(2_000_000):\n    s += i * i % 7\nprint(s)';

function makeCsv(dir) {
  const cities = ['Oslo', 'Lima', 'Pune', 'Kyiv', 'Doha', 'Baku', 'Nuuk', 'Riga'];
  const lines = ['id,city,amount'];
  let i = 0;
  while (lines.join('\n').length < 1024 * 1024 && i < 60000) {
    for (let j = 0; j < 1000; j++, i++) lines.push(`${i},${cities[i % cities.length]},${((i * 37) % 1000) / 10}`);
  }
  writeFileSync(path.join(dir, 'data.csv'), `${lines.join('\n')}\n`);
}

/** Cold start of the shadowbox sandbox in a fresh Node process: createPython → first result. */
function coldShadowbox(bundleDir, emptyDir) {
  const script = `
    const { createPython } = await import(${JSON.stringify(path.join(dist, 'index.js'))});
    const { loadBundleDir, MemoryLayerView } = await import(${JSON.stringify(path.join(dist, 'test-support.js'))});
    const t = performance.now();
    const py = createPython({ loadBundle: () => loadBundleDir(${JSON.stringify(bundleDir)}) });
    const r = await py.run({ code: 'print(1+1)' }, { view: new MemoryLayerView(${JSON.stringify(emptyDir)}) });
    const ms = performance.now() - t;
    await py.close();
    process.stdout.write(JSON.stringify({ ms, out: r.stdout }));`;
  // A file, not `node --input-type=module -e`: workers inherit execArgv, and the WASI pool's
  // CommonJS worker source does not load under --input-type=module.
  const file = path.join(emptyDir, 'cold.mjs');
  writeFileSync(file, script);
  const r = spawnSync(process.execPath, [file], { encoding: 'utf8' });
  const out = JSON.parse(r.stdout);
  if (out.out !== '2\n') throw new Error(`cold shadowbox run failed: ${r.stdout}`);
  return out.ms;
}

/** Cold start of Pyodide in a fresh Node process: loadPyodide → first result. */
function coldPyodide() {
  const script = `
    const { loadPyodide } = await import('pyodide');
    const t = performance.now();
    const py = await loadPyodide();
    py.setStdout({ batched: () => {} });
    py.runPython('print(1+1)');
    process.stdout.write(JSON.stringify({ ms: performance.now() - t }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    cwd: path.join(here, '..', 'daemon'),
  });
  return JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('{'))).ms;
}

/**
 * CPython's module made ready in a fresh Node process, as the worker that compiles it at a daemon start does
 * (wasi/worker/compile.ts: read through a descriptor, SHA-256 against the manifest's, the memory rewrite, compile),
 * or, `plain`, the file read and compiled as it is (no check, no rewrite): the least any host does. The child's own
 * clock, from before the read to the compiled module (Node's start is not in it).
 */
function coldCompile(wasmFile, sha256, plain) {
  const compileJs = path.join(here, '..', 'daemon', 'dist', 'wasi', 'worker', 'compile.js');
  const script = plain
    ? `const { readFileSync } = await import('node:fs');
       const t = performance.now();
       await WebAssembly.compile(readFileSync(${JSON.stringify(wasmFile)}));
       process.stdout.write(JSON.stringify({ ms: performance.now() - t }));`
    : `const { openSync, fstatSync } = await import('node:fs');
       const { compileFile } = await import(${JSON.stringify(compileJs)});
       const t = performance.now();
       const fd = openSync(${JSON.stringify(wasmFile)}, 'r');
       const r = await compileFile({ fd, size: fstatSync(fd).size, sha256: ${JSON.stringify(sha256)}, maxPages: 16384, detachData: true });
       if (!r.ok) throw new Error(r.message);
       process.stdout.write(JSON.stringify({ ms: performance.now() - t }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`coldCompile: ${r.stderr}`);
  return JSON.parse(r.stdout).ms;
}

/**
 * Each build's own V8 code cache folder, made on its first start. In one folder, two builds started in turn evict each
 * other's cache (loader.cjs keeps one bundle version per name) and both would start without one every round; and a
 * bench does not write into the person's own cache (~/.cache/shadowbox).
 */
const cacheDirs = new Map();
const cacheDirOf = (binPath) => {
  if (!cacheDirs.has(binPath)) cacheDirs.set(binPath, mkdtempSync(path.join(os.tmpdir(), 'sbpy-cache-')));
  return cacheDirs.get(binPath);
};

/**
 * Starts `shadowbox daemon --no-web` on `stateDir` (kept: a second start finds the bundle installed), in the
 * environment a client's auto-start gives it (daemon-env.ts; that build's own for another build's bin); `tunables:
 * false` runs it with glibc's defaults, a string with those GLIBC_TUNABLES; `binPath`: another build's bin
 * (BENCH_BASELINE_BIN).
 */
async function spawnDaemon(stateDir, { tunables = true, binPath = bin } = {}) {
  const socketPath = path.join(stateDir, 'd.sock');
  const base = {
    ...process.env,
    SHADOWBOX_STATE_DIR: stateDir,
    SHADOWBOX_SOCKET: socketPath,
    SHADOWBOX_CACHE_DIR: cacheDirOf(binPath),
  };
  const env =
    tunables === true
      ? await startEnvOf(binPath, base)
      : { ...base, GLIBC_TUNABLES: tunables === false ? '' : tunables };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [binPath, 'daemon', '--no-web'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d;
      if (/shadowbox daemon ready/.test(err)) resolve();
    });
    child.once('exit', (c) => reject(new Error(`daemon exited ${c}: ${err}`)));
  });
  return {
    socketPath,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A daemon on `stateDir` with one session on `ws`: `call()` is one `tools/call` of python `print(1+1)`. */
async function daemonSession(stateDir, ws, opts) {
  const daemon = await spawnDaemon(stateDir, opts);
  const c = await connectSocket(daemon.socketPath);
  await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
  const s = await c.request({ method: 'session/create' }, { workspace: ws });
  return {
    daemon,
    async call() {
      const r = await c.request(
        { method: 'tools/call' },
        { sessionId: s.sessionId, tool: 'python', input: { code: 'print(1+1)' } },
      );
      if (r.data?.stdout !== '2\n') throw new Error(`python through the daemon failed: ${r.content}`);
    },
    async close() {
      c.dispose();
      await daemon.stop();
    },
  };
}

export async function run() {
  const rows = [];
  const { createPython } = await import(path.join(dist, 'index.js'));
  const { findBuiltPythonBundle, loadBundleDir, MemoryLayerView } = await import(path.join(dist, 'test-support.js'));
  const bundleDir = findBuiltPythonBundle();
  if (!bundleDir) return { name: 'python', rows: [{ metric: 'skipped: no built python bundle', value: 0, unit: '' }] };
  const ws = mkdtempSync(path.join(os.tmpdir(), 'sbpy-bench-'));
  makeCsv(ws);
  // Native python3: a fresh process each time, as an agent's subprocess would be.
  const native = (code) => execFileP(NATIVE, ['-c', code], { cwd: ws });
  const nativeHello = () => native('print(1+1)');
  try {
    await nativeHello();
    // Library: compiled module and stdlib cached, a pooled worker with the next instance made ahead.
    const py = createPython({ loadBundle: () => loadBundleDir(bundleDir) });
    await py.warm();
    const sb = (code) => py.run({ code }, { view: new MemoryLayerView(ws) });
    await sb('print(1+1)');
    rows.push(
      row(
        'print(1+1) warm: shadowbox library',
        await interleave(21, () => sb('print(1+1)'), nativeHello),
        'createPython().run in-process, a fresh sandboxed instance per call, vs a python3 -c process',
      ),
    );
    rows.push(
      row(
        '1 MB CSV aggregation: shadowbox',
        await interleave(
          5,
          () => sb(CSV_CODE),
          () => native(CSV_CODE),
        ),
        'csv.DictReader over a workspace file',
      ),
    );
    rows.push(
      row(
        'CPU loop 2M iterations: shadowbox',
        await interleave(
          5,
          () => sb(CPU_CODE),
          () => native(CPU_CODE),
        ),
        'pure-Python loop',
      ),
    );
    await py.close();
    const empty = mkdtempSync(path.join(os.tmpdir(), 'sbpy-empty-'));
    rows.push(
      row(
        'print(1+1) cold: shadowbox library in a new Node process',
        await interleave(5, () => coldShadowbox(bundleDir, empty), nativeHello),
        'compile module, load stdlib, spawn worker, run',
      ),
    );
    rmSync(empty, { recursive: true, force: true });
    {
      const wasmFile = path.join(bundleDir, 'python.wasm');
      const sha256 = createHash('sha256').update(readFileSync(wasmFile)).digest('hex');
      rows.push(
        row(
          'python.wasm made ready in a fresh process: read, SHA-256, rewrite, compile',
          await interleaveMeasured(
            5,
            () => coldCompile(wasmFile, sha256, false),
            () => coldCompile(wasmFile, sha256, true),
          ),
          "the steps of the worker that compiles it at a daemon start (the child's clock, Node's start not in it); vs the file read and WebAssembly.compile'd as it is",
        ),
      );
    }

    // Through the daemon (a fresh state dir: the background warm-up installs the bundle from bundles/out).
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'sbpy-state-'));
    try {
      let d = await daemonSession(stateDir, ws);
      await d.call();
      for (let i = 0; i < 5; i++) await d.call();
      rows.push(
        row(
          'tools/call python print(1+1) warm (daemon)',
          await interleave(21, () => d.call(), nativeHello),
          'real daemon over its socket: policy, audit, shadow view, fresh instance; vs a python3 -c process',
        ),
      );
      // The whole command, as a person or an agent's shell would run it (the daemon already running).
      const env = { ...process.env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_SOCKET: d.daemon.socketPath };
      delete env.NODE_OPTIONS;
      const cli = () => {
        const p = execFileP(process.execPath, [bin, 'python', '-c', 'print(1+1)'], { cwd: ws, env });
        p.child.stdin?.end();
        return p;
      };
      await cli();
      rows.push(
        row(
          'shadowbox python -c print(1+1), whole command, Node CLI (daemon running)',
          await interleave(7, cli, nativeHello),
          'node daemon/bin/shadowbox.js: Node start, connect, session reuse, tools/call, output; vs python3 -c',
        ),
      );
      // The same command through the bin a release installs: the native launcher (clients/launcher), which answers
      // python -c itself with a daemon running. No node on PATH, so a run that hands over to Node would fail here.
      if (launcher) {
        const bare = { ...env, PATH: NO_NODE_PATH };
        const native = () => {
          const p = execFileP(launcher, ['python', '-c', 'print(1+1)'], { cwd: ws, env: bare });
          p.child.stdin?.end();
          return p;
        };
        if ((await native()).stdout !== '2\n') throw new Error('the native launcher did not print 2');
        rows.push(
          row(
            'shadowbox python -c print(1+1), whole command, native launcher (daemon running)',
            await interleave(11, native, nativeHello),
            'daemon/bin/shadowbox (clients/launcher): connect, session reuse, tools/call, output; vs python3 -c',
          ),
        );
        rows.push(
          row(
            'shadowbox python -c: native launcher vs the Node CLI',
            await interleave(7, native, cli),
            'the same command and daemon through both bins',
          ),
        );
      } else console.error('bench python: no native launcher built (no C compiler): its rows are left out');
      await d.close();
      // First call after a restart (the bundle installed, as a daemon start normally finds it), made at
      // once after ready + session/create, while python's background warm-up may still be going.
      // Each round also starts the daemon once with glibc's malloc defaults (no auto-start tunables) and once with the
      // tunables with huge pages the other way (HUGETLB_ALTERNATIVE), for the rows below.
      const firsts = [];
      const plainFirsts = [];
      const altHugeFirsts = [];
      const natives = [];
      // The settings' order flips every round (as interleave.mjs does): none always follows the same one.
      const hugeAlt = { tunables: HUGETLB_ALTERNATIVE.tunables };
      for (let i = 0; i < 5; i++) {
        const starts = [
          [firsts, undefined],
          [plainFirsts, { tunables: false }],
          [altHugeFirsts, hugeAlt],
        ];
        for (const [into, opts] of i % 2 ? starts.reverse() : starts) {
          d = await daemonSession(stateDir, ws, opts);
          into.push(await time(() => d.call()));
          await d.close();
        }
        natives.push(await time(nativeHello));
      }
      // The first call as a person's first prompt makes it: after a model's answer, not at once. Made 1 s after
      // session/create, by when the background warm-up has compiled CPython and primed it on this machine.
      const later = [];
      const laterNatives = [];
      for (let i = 0; i < 5; i++) {
        d = await daemonSession(stateDir, ws);
        await new Promise((r) => setTimeout(r, 1000));
        later.push(await time(() => d.call()));
        await d.close();
        laterNatives.push(await time(nativeHello));
      }
      // A person's first start: a new state dir, where this start installs the bundle (checks its signature and
      // files, unpacks it) before the call can run.
      const freshFirst = async (opts) => {
        const fresh = mkdtempSync(path.join(os.tmpdir(), 'sbpy-fresh-'));
        try {
          const t0 = performance.now();
          const f = await daemonSession(fresh, ws, opts);
          const call = await time(() => f.call());
          const whole = performance.now() - t0;
          await f.close();
          return { call, whole };
        } finally {
          rmSync(fresh, { recursive: true, force: true });
        }
      };
      const freshCalls = [];
      const freshNatives = [];
      const freshAltHuge = [];
      for (let i = 0; i < 5; i++) {
        const starts = [
          [freshCalls, undefined],
          [freshAltHuge, hugeAlt],
        ];
        for (const [into, opts] of i % 2 ? starts.reverse() : starts) into.push((await freshFirst(opts)).call);
        freshNatives.push(await time(nativeHello));
      }
      rows.push(
        row(
          'tools/call python print(1+1) first after the first start on a new state dir',
          { subject: stats(freshCalls), baseline: stats(freshNatives) },
          'the start installed the bundle; the call right after ready + session/create; vs a python3 -c process',
        ),
        row(
          'tools/call python print(1+1) first after daemon start, made 1 s after session/create',
          { subject: stats(later), baseline: stats(laterNatives) },
          "the daemon's first python call when it comes after a model's answer; vs a python3 -c process",
        ),
        row(
          'tools/call python print(1+1) first after daemon start',
          { subject: stats(firsts), baseline: stats(natives) },
          'bundle installed; the call right after ready + session/create; goal ≤ 150 ms',
        ),
        row(
          'the same first call, malloc tunables vs none',
          { subject: stats(firsts), baseline: stats(plainFirsts) },
          "vs the same daemon started with GLIBC_TUNABLES='' (glibc's defaults), rounds alternating",
        ),
      );
      rows.push(
        row(
          `the same first call, malloc tunables vs ${HUGETLB_ALTERNATIVE.label}`,
          { subject: stats(firsts), baseline: stats(altHugeFirsts) },
          `what huge pages give (their cost, idle memory: start.mjs); vs GLIBC_TUNABLES=${HUGETLB_ALTERNATIVE.tunables}`,
        ),
        row(
          `the first call on a new state dir, malloc tunables vs ${HUGETLB_ALTERNATIVE.label}`,
          { subject: stats(freshCalls), baseline: stats(freshAltHuge) },
          'the start installed the bundle (its archive streamed in 1 MiB reads, hashed and unpacked); rounds alternating',
        ),
      );
      // BENCH_BASELINE_BIN (another build's daemon/bin/shadowbox.js, its bundles/out and keys beside it): the same first
      // call, this build's daemon and that one's started in turn, each on its own state dir (its first start installs
      // the bundle there and is not counted).
      if (process.env.BENCH_BASELINE_BIN) {
        const baseState = mkdtempSync(path.join(os.tmpdir(), 'sbpy-state-'));
        const other = { binPath: process.env.BENCH_BASELINE_BIN };
        try {
          d = await daemonSession(baseState, ws, other);
          await d.call();
          await d.close();
          const ours = [];
          const theirs = [];
          // Spawn → the call's answer too: work that moves the call's wait into the start or session/create shows there.
          const oursWhole = [];
          const theirsWhole = [];
          for (let i = 0; i < 11; i++)
            for (const base of i % 2 ? [true, false] : [false, true]) {
              const t0 = performance.now();
              d = await daemonSession(base ? baseState : stateDir, ws, base ? other : {});
              (base ? theirs : ours).push(await time(() => d.call()));
              (base ? theirsWhole : oursWhole).push(performance.now() - t0);
              await d.close();
            }
          // The same on a new state dir each time (the start installs the bundle), 7 rounds.
          const freshOurs = [];
          const freshTheirs = [];
          for (let i = 0; i < 7; i++)
            for (const base of i % 2 ? [true, false] : [false, true])
              (base ? freshTheirs : freshOurs).push(await freshFirst(base ? other : {}));
          rows.push(
            row(
              'tools/call python print(1+1) first after the first start on a new state dir, this build vs BENCH_BASELINE_BIN',
              { subject: stats(freshOurs.map((r) => r.call)), baseline: stats(freshTheirs.map((r) => r.call)) },
              'the start installed the bundle; the two builds alternating, each on a new state dir every round',
            ),
            row(
              'daemon spawn → that first call answered on a new state dir, this build vs BENCH_BASELINE_BIN',
              { subject: stats(freshOurs.map((r) => r.whole)), baseline: stats(freshTheirs.map((r) => r.whole)) },
              'the same rounds: spawn, install, ready, initialize, session/create, the call',
            ),
            row(
              'tools/call python print(1+1) first after daemon start, this build vs BENCH_BASELINE_BIN',
              { subject: stats(ours), baseline: stats(theirs) },
              'the call right after ready + session/create; the two builds alternating, each on its own state dir',
            ),
            row(
              'daemon spawn → that first call answered, this build vs BENCH_BASELINE_BIN',
              { subject: stats(oursWhole), baseline: stats(theirsWhole) },
              'the same rounds: spawn, ready, initialize, session/create, the call',
            ),
          );
        } finally {
          rmSync(baseState, { recursive: true, force: true });
        }
      }
      // The warm call in two daemons side by side, with and without the tunables (each its own state dir).
      const plainState = mkdtempSync(path.join(os.tmpdir(), 'sbpy-state-'));
      const a = await daemonSession(stateDir, ws);
      const b = await daemonSession(plainState, ws, { tunables: false });
      try {
        for (let i = 0; i < 5; i++) {
          await a.call();
          await b.call();
        }
        rows.push(
          row(
            'tools/call python print(1+1) warm (daemon), malloc tunables vs none',
            await interleave(
              21,
              () => a.call(),
              () => b.call(),
            ),
            "vs a second daemon started with GLIBC_TUNABLES='' (glibc's defaults)",
          ),
        );
      } finally {
        await a.close();
        await b.close();
        rmSync(plainState, { recursive: true, force: true });
      }
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }

    // Pyodide, the other CPython on WebAssembly, for reference: one loaded instance (its state persists between runs:
    // no isolation), each row interleaved with the same native python3 alternative as the rows above.
    const { loadPyodide } = await import('pyodide');
    const pyo = await loadPyodide();
    pyo.setStdout({ batched: () => {} });
    pyo.FS.writeFile('/home/pyodide/data.csv', readFileSync(path.join(ws, 'data.csv')));
    pyo.runPython('import os; os.chdir("/home/pyodide")');
    rows.push(
      row(
        'print(1+1) warm: pyodide',
        await interleave(21, () => pyo.runPython('print(1+1)'), nativeHello),
        'runPython on one loaded instance, state kept between runs; vs a python3 -c process',
      ),
      row(
        '1 MB CSV aggregation: pyodide',
        await interleave(
          5,
          () => pyo.runPython(CSV_CODE),
          () => native(CSV_CODE),
        ),
        'same code, the file in MEMFS',
      ),
      row(
        'CPU loop 2M iterations: pyodide',
        await interleave(
          5,
          () => pyo.runPython(CPU_CODE),
          () => native(CPU_CODE),
        ),
        'same loop',
      ),
      row(
        'print(1+1) cold: pyodide in a new Node process',
        await interleave(5, coldPyodide, nativeHello),
        'loadPyodide + runPython',
      ),
    );
  } finally {
    rmSync(ws, { recursive: true, force: true });
    for (const dir of cacheDirs.values()) rmSync(dir, { recursive: true, force: true });
    cacheDirs.clear();
  }
  return { name: 'python', rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  console.table(r.rows);
}
