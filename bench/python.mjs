// Python benchmarks: shadowbox's sandboxed CPython (pre-initialized python.wasm in a fresh
// in-memory WASI instance per call) against native python3 and Pyodide (npm) in the same run.
// Metrics: warm and cold print(1+1), a 1 MB CSV aggregation, a CPU loop. Ratios are
// value / native python3 (lower is better). Needs `npx tsc -b daemon` and a built python bundle
// (`node bundles/scripts/build.mjs python`).
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connectSocket } from '../clients/editor/dist/index.js';
import { bin } from './lib/daemon.mjs';

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

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeN(n, fn) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

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

/** Starts `shadowbox daemon --no-web` on `stateDir` (kept: a second start finds the bundle installed). */
async function spawnDaemon(stateDir) {
  const socketPath = path.join(stateDir, 'd.sock');
  const env = { ...process.env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_SOCKET: socketPath };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [bin, 'daemon', '--no-web'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
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

/**
 * Through a real daemon: `tools/call` of `python` in a session (policy, audit, shadow view, the
 * JSON-RPC socket). `first` is the first call, made `delayMs` after the daemon reported ready and a
 * session was created (0: at once, while python's background warm-up is still going); `warm` the
 * calls after it.
 */
async function throughDaemon(stateDir, ws, warmRuns, delayMs = 0) {
  const daemon = await spawnDaemon(stateDir);
  const c = await connectSocket(daemon.socketPath);
  try {
    await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
    const s = await c.request({ method: 'session/create' }, { workspace: ws });
    const call = async () => {
      const r = await c.request(
        { method: 'tools/call' },
        { sessionId: s.sessionId, tool: 'python', input: { code: 'print(1+1)' } },
      );
      if (r.data?.stdout !== '2\n') throw new Error(`python through the daemon failed: ${r.content}`);
      return r;
    };
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const t = performance.now();
    await call();
    const first = performance.now() - t;
    const times = [];
    for (let i = 0; i < warmRuns; i++) {
      const t1 = performance.now();
      await call();
      times.push(performance.now() - t1);
    }
    return { first, warm: times };
  } finally {
    c.dispose();
    await daemon.stop();
  }
}

export async function run() {
  const rows = [];
  const { createPython } = await import(path.join(dist, 'index.js'));
  const { findBuiltPythonBundle, loadBundleDir, MemoryLayerView } = await import(path.join(dist, 'test-support.js'));
  const bundleDir = findBuiltPythonBundle();
  if (!bundleDir) return { name: 'python', rows: [{ metric: 'skipped: no built python bundle', value: 0, unit: '' }] };
  const ws = mkdtempSync(path.join(os.tmpdir(), 'sbpy-bench-'));
  makeCsv(ws);
  try {
    // Native python3 (a fresh process each time, as an agent's subprocess would be).
    const native = (code) => execFileP(NATIVE, ['-c', code], { cwd: ws });
    await native('print(1+1)');
    const nativeHello = await timeN(21, () => native('print(1+1)'));
    const nativeCsv = await timeN(5, () => native(CSV_CODE));
    const nativeCpu = await timeN(3, () => native(CPU_CODE));

    // shadowbox: warm = compiled module and stdlib cached, a pre-spawned worker, fresh instance.
    const py = createPython({ loadBundle: () => loadBundleDir(bundleDir) });
    const view = new MemoryLayerView(ws);
    await py.warm();
    await py.run({ code: 'print(1+1)' }, { view });
    const sbHello = await timeN(21, () => py.run({ code: 'print(1+1)' }, { view: new MemoryLayerView(ws) }));
    const sbCsv = await timeN(5, () => py.run({ code: CSV_CODE }, { view: new MemoryLayerView(ws) }));
    const sbCpu = await timeN(3, () => py.run({ code: CPU_CODE }, { view: new MemoryLayerView(ws) }));
    await py.close();
    const empty = mkdtempSync(path.join(os.tmpdir(), 'sbpy-empty-'));
    const sbCold = median([
      coldShadowbox(bundleDir, empty),
      coldShadowbox(bundleDir, empty),
      coldShadowbox(bundleDir, empty),
    ]);
    rmSync(empty, { recursive: true, force: true });

    // Through the daemon. A fresh state dir (python's background warm-up installs the bundle from bundles/out),
    // then restarts on it (the bundle is installed: what a daemon start normally finds): five with
    // the first call at once, three with it 1 s after ready (the warm-up has finished).
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'sbpy-state-'));
    let fresh;
    const restarts = [];
    const settled = [];
    try {
      fresh = await throughDaemon(stateDir, ws, 30);
      for (let i = 0; i < 5; i++) restarts.push(await throughDaemon(stateDir, ws, 0));
      for (let i = 0; i < 3; i++) settled.push(await throughDaemon(stateDir, ws, 0, 1000));
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
    const dWarm = median(fresh.warm);
    const dFirst = median(restarts.map((d) => d.first));
    const dSettled = median(settled.map((d) => d.first));
    const nativeAgain = await timeN(21, () => native('print(1+1)'));

    // Pyodide: one loaded instance reused for warm numbers (its state persists between runs).
    const { loadPyodide } = await import('pyodide');
    const pyo = await loadPyodide();
    pyo.setStdout({ batched: () => {} });
    pyo.FS.writeFile('/home/pyodide/data.csv', (await import('node:fs')).readFileSync(path.join(ws, 'data.csv')));
    pyo.runPython('import os; os.chdir("/home/pyodide")');
    const pyoHello = await timeN(15, () => pyo.runPython('print(1+1)'));
    const pyoCsv = await timeN(5, () => pyo.runPython(CSV_CODE));
    const pyoCpu = await timeN(3, () => pyo.runPython(CPU_CODE));
    const pyoCold = median([coldPyodide(), coldPyodide()]);

    const add = (metric, value, baseline, note) =>
      rows.push({
        metric,
        value: Math.round(value * 10) / 10,
        unit: 'ms',
        baseline: Math.round(baseline * 10) / 10,
        ratio: Math.round((value / baseline) * 100) / 100,
        note,
      });
    add(
      'tools/call python print(1+1) warm p50 (daemon)',
      dWarm,
      nativeAgain,
      'real daemon over its socket: policy, audit, shadow view, fresh instance; vs python3 -c process',
    );
    add(
      'tools/call python print(1+1) first after daemon start (daemon)',
      dFirst,
      nativeAgain,
      `bundle installed; call right after ready + session/create; median of 5 restarts (${restarts.map((d) => Math.round(d.first)).join(', ')} ms); goal ≤ 150 ms`,
    );
    add(
      'tools/call python print(1+1) first, 1 s after daemon start (daemon)',
      dSettled,
      nativeAgain,
      `bundle installed; warm-up finished; median of 3 restarts (${settled.map((d) => Math.round(d.first)).join(', ')} ms)`,
    );
    add(
      'tools/call python print(1+1) first on a fresh state dir (daemon)',
      fresh.first,
      nativeAgain,
      'the background warm-up installs + verifies the bundle from bundles/out, compiles and primes; the call waits for what is left of that',
    );
    add(
      'print(1+1) warm: shadowbox (library)',
      sbHello,
      nativeHello,
      'createPython().run in-process, fresh sandboxed instance per call vs python3 -c process',
    );
    add(
      'print(1+1) warm: pyodide',
      pyoHello,
      nativeHello,
      'runPython on a loaded instance (state shared between runs)',
    );
    add(
      'print(1+1) cold: shadowbox',
      sbCold,
      nativeHello,
      'new Node process: compile module, load stdlib, spawn worker, run',
    );
    add('print(1+1) cold: pyodide', pyoCold, nativeHello, 'new Node process: loadPyodide + runPython');
    add('1 MB CSV aggregation: shadowbox', sbCsv, nativeCsv, 'csv.DictReader over a workspace file');
    add('1 MB CSV aggregation: pyodide', pyoCsv, nativeCsv, 'same code, file in Pyodide MEMFS');
    add('CPU loop 2M iterations: shadowbox', sbCpu, nativeCpu, 'pure-Python loop');
    add('CPU loop 2M iterations: pyodide', pyoCpu, nativeCpu, 'same loop');
    rows.push({
      metric: 'shadowbox vs pyodide cold start',
      value: Math.round((sbCold / pyoCold) * 1000) / 1000,
      unit: 'x',
      note: 'ratio of the two cold rows',
    });
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
  return { name: 'python', rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await run();
  console.table(r.rows);
}
