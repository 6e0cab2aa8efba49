// Tool runtime benchmarks: grep / glob / read_file through the runtime over a 2,000-file tree, interleaved with
// `grep -rn`, `rg`, `find`, `head | cat -n` and `sed -n` (median, min–max), and the runtime's own per-call cost
// (validate + policy port + audit port + cap) against calling the handler directly, in alternating batches.
// Needs the built daemon: `npx tsc -b daemon`.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { z } from 'zod';
import { createBuiltinTools, createToolRuntime, defineTool } from '../daemon/dist/tools/index.js';
import { createOverlayView } from '../daemon/dist/wasi/test-support.js';
import { interleave, interleaveMeasured, row, stats } from './lib/interleave.mjs';

const run$ = promisify(execFile);
const DIRS = 40;
const FILES_PER_DIR = 50;
const REPEAT = 11; // interleaved rounds for rows with an alternative
const CALLS = 20_000;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const round = (v, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

/** Times `fn` once (ms). */
async function timeOnce(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** A row with no alternative that can run beside it: the median and min–max of its rounds. */
function oneSided(metric, xs, unit, note) {
  const st = stats(xs);
  return {
    metric,
    value: round(st.median, 1),
    unit,
    note: `${note}; ${st.n} rounds: ${round(st.min, 1)}–${round(st.max, 1)}`,
  };
}

/** 2,000 TypeScript-like files (~3 KiB each) in 40 directories, a .gitignore, and one large file. */
function makeTree(root) {
  const body = (d, f) =>
    Array.from({ length: 80 }, (_, k) =>
      k % 37 === (d + f) % 37
        ? `  const value${k} = useState(${k}); // needle ${d}/${f}`
        : `  const line${k} = compute(${k}, "${d}-${f}");`,
    ).join('\n');
  for (let d = 0; d < DIRS; d++) {
    const dir = path.join(root, 'src', `pkg${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < FILES_PER_DIR; f++)
      writeFileSync(path.join(dir, `file${f}.ts`), `export function f${f}() {\n${body(d, f)}\n}\n`);
  }
  writeFileSync(path.join(root, '.gitignore'), 'dist/\n');
  mkdirSync(path.join(root, 'slow'));
  writeFileSync(
    path.join(root, 'big.log'),
    Array.from({ length: 100_000 }, (_, k) => `${k} INFO request handled in ${k % 97} ms`).join('\n'),
  );
}

export async function run() {
  const rows = [];
  const root = mkdtempSync(path.join(os.tmpdir(), 'sbx-bench-tools-'));
  try {
    makeTree(root);
    const view = createOverlayView(root);
    const allow = { decide: async () => ({ action: 'allow', rule: 'bench:allow' }), grant: async () => undefined };
    const entries = [];
    const audit = { append: async (e) => void entries.push(e) };
    const logger = { info() {}, warn() {}, error() {}, debug() {}, close: async () => undefined };
    const echo = defineTool({
      name: 'echo',
      kind: 'other',
      description: 'echo',
      input: z.object({ text: z.string(), n: z.number().int().optional() }).strict(),
      handler: async (i) => ({ content: i.text }),
    });
    const runtime = createToolRuntime({ tools: [...createBuiltinTools(), echo], policy: allow, audit, logger });
    const ctx = {
      sessionId: 'bench',
      workspace: root,
      mode: () => 'review',
      ask: async () => ({ outcome: 'deny' }),
      view: async () => view,
    };
    const tools = runtime.forSession(ctx);
    const signal = new AbortController().signal;
    let id = 0;
    const call = (name, input) => tools.call({ turnId: 't', callId: `c${++id}`, name, input, signal });

    // grep over the tree: runtime vs grep -rn (same pattern, same files; grep -rn also reads the .gitignore'd nothing).
    const grepOut = await call('grep', { pattern: 'useState\\(', max_matches: 5000 });
    const native = await run$('grep', ['-rn', '--exclude-dir=.git', 'useState(', 'src'], {
      cwd: root,
      maxBuffer: 64 << 20,
    });
    const nativeLines = native.stdout.trim().split('\n').length;
    if (grepOut.data.matches !== nativeLines)
      throw new Error(`grep mismatch: runtime ${grepOut.data.matches} vs grep -rn ${nativeLines}`);
    rows.push(
      row(
        `grep, ${DIRS * FILES_PER_DIR} files, ${nativeLines} matches`,
        await interleave(
          REPEAT,
          () => call('grep', { pattern: 'useState\\(', max_matches: 5000 }),
          () => run$('grep', ['-rn', '--exclude-dir=.git', 'useState(', 'src'], { cwd: root, maxBuffer: 64 << 20 }),
        ),
        'vs grep -rn (spawned) on the same tree; the tool walks the overlay view (rg, when found: bench/grep.mjs)',
      ),
      row(
        'grep, no match',
        await interleave(
          REPEAT,
          () => call('grep', { pattern: 'no_such_token_anywhere' }),
          () => run$('grep', ['-rn', 'no_such_token_anywhere', 'src'], { cwd: root }).catch(() => undefined),
        ),
        'vs grep -rn; whole-file scan, the cost is the per-file I/O',
      ),
    );
    // Hostile patterns: catastrophic backtracking is linear in RE2, and a slow-but-linear search runs in
    // a worker, so the event loop keeps turning and a cancel lands at once.
    writeFileSync(path.join(root, 'aaa.txt'), `${'a'.repeat(100_000)}b\n`);
    const rg = await run$('rg', ['--version']).then(
      () => true,
      () => false,
    );
    const redos = () => call('grep', { pattern: '(a+)+$', path: 'aaa.txt' });
    if (rg)
      rows.push(
        row(
          'grep (a+)+$ on a 100k-char aaa…b line',
          await interleave(5, redos, () =>
            run$('rg', ['-n', '(a+)+$', 'aaa.txt'], { cwd: root }).catch(() => undefined),
          ),
          "vs rg (spawned; its automaton is linear too); JavaScript's RegExp never returns here (2^n backtracking)",
        ),
      );
    else {
      const ts = [];
      for (let i = 0; i < 5; i++) ts.push(await timeOnce(redos));
      rows.push(oneSided('grep (a+)+$ on a 100k-char aaa…b line', ts, 'ms', 'rg is not installed: no alternative run'));
    }
    let seed = 1;
    const chars = 'abcdefghijklmnopqrstuvwxyz0123456789 _=(){};.,x#';
    writeFileSync(
      path.join(root, 'slow', 'varied.txt'),
      Array.from(
        { length: 1 << 20 },
        () => chars[Math.floor(((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000) * chars.length)],
      ).join(''),
    );
    // Five rounds of: a search that would hold the main thread ~10 s, cancelled after 1 s; the event loop's largest
    // lag meanwhile, and the time from the cancel to the call's answer. Nothing can run beside them as an alternative
    // (the same search on the main thread is the ~10 s it avoids).
    const lags = [];
    const settles = [];
    for (let round = 0; round < 5; round++) {
      let maxLag = 0;
      let last = performance.now();
      const tick = setInterval(() => {
        const now = performance.now();
        maxLag = Math.max(maxLag, now - last - 10);
        last = now;
      }, 10);
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 1000);
      const slow = tools.call({
        turnId: 't',
        callId: `c${++id}`,
        name: 'grep',
        input: { pattern: '\\b[\\s\\S]{0,999}\\bx\\by', path: 'slow' },
        signal: ac.signal,
      });
      await new Promise((r) => ac.signal.addEventListener('abort', r, { once: true }));
      const tAbort = performance.now();
      const slowOut = await slow;
      settles.push(performance.now() - tAbort);
      clearInterval(tick);
      lags.push(maxLag);
      if (slowOut.reason !== 'cancelled') throw new Error(`slow grep was not cancelled: ${slowOut.content}`);
    }
    rows.push(
      oneSided(
        'event-loop lag while grep runs an NFA-bound search (max of each round)',
        lags,
        'ms',
        'setInterval 10 ms over 1 s of a 1 MiB search that would take ~10 s on the main thread',
      ),
      oneSided('grep cancelled mid-match → call settled', settles, 'ms', 'the worker thread is terminated'),
    );

    rows.push(
      row(
        'glob **/*.ts, 2000 files',
        await interleave(
          REPEAT,
          () => call('glob', { pattern: '**/*.ts' }),
          () => run$('find', ['src', '-name', '*.ts'], { cwd: root, maxBuffer: 64 << 20 }),
        ),
        'vs find -name (spawned); result capped at 1000 paths',
      ),
      // read_file: first 2,000 lines of a 100k-line (3.6 MiB) file vs head | cat -n.
      row(
        'read_file 2000 lines of a 100k-line file',
        await interleave(
          REPEAT,
          () => call('read_file', { path: 'big.log' }),
          () => run$('sh', ['-c', 'head -n 2000 big.log | cat -n'], { cwd: root }),
        ),
        'vs sh -c "head -n 2000 | cat -n"; read_file reads the whole file',
      ),
    );
    rows.push(
      row(
        'read_file 100 lines at line 90000',
        await interleave(
          REPEAT,
          () => call('read_file', { path: 'big.log', offset: 90_000, limit: 100 }),
          () => run$('sed', ['-n', '90000,90099p', 'big.log'], { cwd: root }),
        ),
        'vs sed -n (spawned)',
      ),
    );

    // Per-call costs, in batches of CALLS / 10 calls, the two sides alternating batch by batch (10 rounds); each round
    // gives the median call of its batch.
    const BATCH = CALLS / 10;
    const batches = (subject, baseline) => {
      const all = { subject: [], baseline: [] };
      const side = (fn, into) => async () => {
        const xs = [];
        for (let i = 0; i < BATCH; i++) {
          const t = performance.now();
          await fn();
          xs.push((performance.now() - t) * 1000);
        }
        into.push(...xs);
        return pct(xs, 50);
      };
      return interleaveMeasured(10, side(subject, all.subject), side(baseline, all.baseline)).then((r) => ({
        ...r,
        all,
      }));
    };
    // A trivial handler through the runtime vs the same handler called directly.
    const input = { text: 'hello', n: 3 };
    const direct = () => echo.handler(echo.input.parse(input), { sessionId: 'bench', workspace: root, view, signal });
    entries.length = 0;
    const perCall = await batches(() => call('echo', input), direct);
    if (entries.filter((e) => e.type === 'tool.call').length !== CALLS) throw new Error('audit entry missing');
    rows.push(
      row(
        'a call through the runtime (p50 of each batch)',
        perCall,
        'validate + canonical digest + policy port + audit port + cap; fake ports (no I/O); vs the handler called directly (its input parsed)',
        'µs',
      ),
      {
        metric: 'a call through the runtime, p99 of all calls',
        value: round(pct(perCall.all.subject, 99), 1),
        unit: 'µs',
        baseline: round(pct(perCall.all.baseline, 99), 1),
        ratio: round(pct(perCall.all.subject, 99) / pct(perCall.all.baseline, 99)),
        note: `the same ${CALLS} calls a side; vs the handler called directly`,
      },
    );
    rows.push(
      row(
        'invalid input → tool error (p50 of each batch)',
        await batches(
          () => call('echo', { txt: 'oops' }),
          () => call('echo', input),
        ),
        'zod issues formatted into a fix-it message; vs a valid call through the runtime',
        'µs',
      ),
    );
    const small = path.join(root, 'src/pkg1/file1.ts');
    rows.push(
      row(
        'read_file 1 line of a small file (p50 of each batch)',
        await batches(
          () => call('read_file', { path: 'src/pkg1/file1.ts', limit: 1 }),
          async () => (await readFile(small, 'utf8')).split('\n', 1),
        ),
        'includes view.resolve (realpath) of the target before the policy, stat and read; vs fs.readFile and its first line',
        'µs',
      ),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return { name: 'tools', rows };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await run();
  console.table(r.rows);
}
