// A 100,000-file git repository through a real daemon (issue 20): the first checkpoint — the turn that
// starts watching the workspace — must not freeze the daemon. Per round, on a fresh daemon (the
// monitor bench/lib/loop-monitor.mjs preloaded): first a text-only turn (the daemon's first model turn,
// which loads the model SDK: its RSS growth is a row of its own), then event-loop delay (perf_hooks
// monitorEventLoopDelay, p99) and RSS growth over the turn that writes 50 files and checkpoints them, then until the daemon
// answers session/list in under 50 ms for 2 s; the alternative is the same daemon over an idle window of
// the same length. Then accept of 50 files through the daemon vs `git apply` of the same patch, twice:
// the checkpoint's 50 paths (48 of them new files in new folders: `mod${i * 7}` lies in `pkg${i * 7 % 50}`,
// not `pkg${i % 50}`) and 50 existing files edited in place.
// Needs the built daemon (npm run build). BENCH_FILES changes the repository size (default 100,000).
import { execFile } from 'node:child_process';
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  closeSync,
  fdatasyncSync,
  fsyncSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connectSocket, daemonStartEnv } from '../clients/editor/dist/index.js';
import { startModelServer } from '../daemon/dist/demo/model-server/index.js';
import { writeFileAtomic } from '../daemon/dist/state/index.js';
import { startDaemon } from './lib/daemon.mjs';
import { interleaveMeasured, row, stats } from './lib/interleave.mjs';

const run$ = promisify(execFile);
const FILES = Number(process.env.BENCH_FILES ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
// BENCH_BIGREPO_ONLY=accept: only the accept rows (the first-checkpoint rounds, a fresh daemon each, are skipped);
// =checkpoint: only the first-checkpoint rows.
const ONLY_ACCEPT = process.env.BENCH_BIGREPO_ONLY === 'accept';
const ONLY_CHECKPOINT = process.env.BENCH_BIGREPO_ONLY === 'checkpoint';
// BENCH_BIGREPO_MEM=FILE: one JSON line per window there — where the daemon's memory was at its start and end
// (V8 heap, external, anonymous vs file RSS: bench/lib/loop-monitor.mjs).
const MEM_FILE = process.env.BENCH_BIGREPO_MEM;
// The daemons start in the environment a client's auto-start gives them (glibc's malloc tunables: daemon-env.ts), as
// in the start and python benches; BENCH_BIGREPO_MALLOC=default runs them with glibc's defaults (GLIBC_TUNABLES='',
// what `shadowbox daemon` started by hand gets): their malloc arenas give ~25 MiB back at moments of glibc's
// choosing, inside a window or not (docs/benchmarks.md, run 17).
const MALLOC_DEFAULTS = process.env.BENCH_BIGREPO_MALLOC === 'default';
const EDITED = 50;
const monitor = fileURLToPath(new URL('./lib/loop-monitor.mjs', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** FILES small files in folders of 100, committed; returns the 50 paths the agent writes (48 new: see above). */
async function makeRepo(root) {
  for (let d = 0; d < FILES / 100; d++) {
    const dir = path.join(root, `pkg${d % 50}`, `mod${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(path.join(dir, `f${f}.ts`), `export const v${f} = ${d * 100 + f};\n`);
  }
  const git = (...a) => run$('git', a, { cwd: root, maxBuffer: 256 << 20 });
  await git('init', '-q', '-b', 'main');
  // 100k loose objects would start a background auto-gc that races the clean-up (the tree was left behind).
  await git('config', 'gc.auto', '0');
  await git('add', '-A');
  await git('-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qm', 'initial');
  return Array.from({ length: EDITED }, (_, i) => `pkg${i % 50}/mod${i * 7}/f${i}.ts`);
}

/** 50 files that exist in the repository, each in its own folder. */
const existingFiles = () =>
  Array.from({ length: EDITED }, (_, i) => {
    const d = (i * 7) % (FILES / 100);
    return `pkg${d % 50}/mod${d}/f${i}.ts`;
  });

/**
 * `git apply` of a patch, timed, then undone with `git apply -R` (not timed): the accept rows' alternative. With
 * `synced` (the patch's paths), made as durable as an accept: each file it wrote and every folder on the way to it is
 * fsynced too, in the timed part (a new file or folder lasts a crash only once its folder is synced), in this process
 * (no program started for it, so the cheapest such apply).
 */
async function gitApplyMs(patch, cwd, synced = []) {
  const t0 = performance.now();
  await run$('git', ['apply', patch], { cwd });
  const folders = new Set(synced.length ? ['.'] : []);
  for (const p of synced) {
    for (let dir = path.dirname(p); dir !== '.'; dir = path.dirname(dir)) folders.add(dir);
  }
  for (const p of [...synced, ...folders]) {
    const fd = openSync(path.join(cwd, p), 'r');
    fsyncSync(fd);
    closeSync(fd);
  }
  const ms = performance.now() - t0;
  await run$('git', ['apply', '-R', patch], { cwd });
  return ms;
}

/** The accept journals under a daemon's state dir. */
const findJournals = (stateDir) =>
  readdirSync(stateDir, { recursive: true })
    .map(String)
    .filter((p) => /\/accepts\/acc-[^/]+\.json$/.test(p))
    .map((p) => path.join(stateDir, p));

/** The 50 write_file calls the scripted model makes (the same content every round). */
const writes = (paths) =>
  paths.map((p, i) => ({ name: 'write_file', arguments: { path: p, content: `export const v${i} = 'edited';\n` } }));

/** Longest session/list round trip while probing every 20 ms until it stays under 50 ms for 2 s (cap 60 s). */
async function untilResponsive(c) {
  let worst = 0;
  let calmSince = performance.now();
  const t0 = performance.now();
  while (performance.now() - calmSince < 2000 && performance.now() - t0 < 60_000) {
    const t = performance.now();
    await c.request({ method: 'session/list' }, {});
    const rtt = performance.now() - t;
    worst = Math.max(worst, rtt);
    if (rtt >= 50) calmSince = performance.now();
    await sleep(20);
  }
  return { worst, ms: performance.now() - t0 };
}

/**
 * Waits until the daemon's RSS holds still (within 1 MiB over 600 ms, at most 15 s): python's first install
 * and warm-up run after ready and grow RSS by ~80 MiB, which a fixed pause could count as the checkpoint's.
 */
async function settled(d) {
  const until = performance.now() + 15_000;
  let last = d.rss();
  let still = 0;
  while (performance.now() < until && still < 6) {
    await sleep(100);
    const now = d.rss();
    still = Math.abs(now - last) < 1048576 ? still + 1 : 0;
    if (still === 0) last = now;
  }
}

/** Resets the daemon's loop histogram (SIGUSR2) and returns what it had: {p50, p99, max, rss, mem} (a heap snapshot, when asked for, takes seconds). */
async function loopSnapshot(d, file) {
  rmSync(file, { force: true });
  d.child.kill('SIGUSR2');
  for (let i = 0; i < 6000; i++) {
    try {
      return JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      await sleep(10);
    }
  }
  throw new Error('the loop monitor did not answer');
}

/** Accept of 50 files through the daemon vs git apply of the same patch (each undone after), two sets; and the syncs alone. */
async function acceptRows({ env, model, root, edited, top }) {
  const rows = [];
  const d = await startDaemon(env, ['--no-web']);
  const c = await connectSocket(d.socketPath);
  try {
    await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
    let lastPatch = '';
    for (const [label, paths] of [
      ['50 files (48 new, in new folders)', edited],
      ['50 existing files edited', existingFiles()],
    ]) {
      // A session per set: an undo puts the accepted changes back in review, so in one session the second
      // set's accept (of everything pending) also wrote the first set's 50 files — 99 files against a
      // 50-file patch, in the runs before 2026-12-02 (now checked every round).
      const s = await c.request({ method: 'session/create' }, { workspace: root });
      const patch = path.join(top, 'edit.patch');
      const agentEdits = async () => {
        model.push({ toolCalls: writes(paths) }, { text: ['done'] });
        await c.request({ method: 'session/prompt' }, { sessionId: s.sessionId, text: 'edit 50 files' });
      };
      await agentEdits();
      await c.request({ method: 'shadow/accept' }, { sessionId: s.sessionId });
      await run$('git', ['add', '-N', '.'], { cwd: root });
      writeFileSync(patch, (await run$('git', ['diff'], { cwd: root, maxBuffer: 64 << 20 })).stdout);
      await run$('git', ['reset', '-q'], { cwd: root });
      await c.request({ method: 'shadow/undo' }, { sessionId: s.sessionId });
      const acceptMs = async () => {
        await agentEdits();
        const t0 = performance.now();
        const r = await c.request({ method: 'shadow/accept' }, { sessionId: s.sessionId });
        const ms = performance.now() - t0;
        if (r.applied.length !== paths.length)
          throw new Error(`bigrepo: the accept wrote ${r.applied.length} files, not the ${paths.length} of the patch`);
        await c.request({ method: 'shadow/undo' }, { sessionId: s.sessionId });
        return ms;
      };
      const accept = await interleaveMeasured(ROUNDS, acceptMs, () => gitApplyMs(patch, root));
      lastPatch = patch;
      // The same accept against an apply as durable as it (the rows above compare it with one that is not).
      const synced = await interleaveMeasured(ROUNDS, acceptMs, () => gitApplyMs(patch, root, paths));
      rows.push(
        row(
          `accept ${label} through the daemon, ${FILES}-file repo`,
          accept,
          'vs git apply of the same patch (spawned; git never fsyncs; before answering, the accept fsyncs its journal twice, the audit log and its signed head — the journal’s done follows the answer); goal ≤ 2×',
        ),
        row(
          `accept ${label} through the daemon vs a git apply as durable, ${FILES}-file repo`,
          synced,
          'vs git apply of the same patch, then each file it wrote and the folders on their way fsynced (in the bench process): an apply that lasts a crash, as an accept does',
        ),
      );
    }
    // The durability an accept pays and git apply does not, alone: the same syncs on the same file system —
    // the journal written twice (pending, applied: temp, fsync, rename, folder fsync; its real size), one
    // audit line fdatasynced, the signed head (temp, fsync, rename, folder fsync).
    const journalBytes = Math.max(...findJournals(d.stateDir).map((f) => statSync(f).size));
    const floorDir = mkdtempSync(path.join(d.stateDir, 'fsync-floor-'));
    const journal = Buffer.alloc(journalBytes, 'j');
    const floor = await interleaveMeasured(
      ROUNDS,
      async () => {
        const t0 = performance.now();
        await writeFileAtomic(path.join(floorDir, 'journal.json'), journal);
        await writeFileAtomic(path.join(floorDir, 'journal.json'), journal);
        const fd = openSync(path.join(floorDir, 'audit.jsonl'), 'a');
        writeSync(fd, `${'a'.repeat(2000)}\n`);
        fdatasyncSync(fd);
        closeSync(fd);
        await writeFileAtomic(path.join(floorDir, 'head.json'), 'h'.repeat(300));
        return performance.now() - t0;
      },
      () => gitApplyMs(lastPatch, root),
    );
    rows.push(
      row(
        `an accept's fsyncs alone (journal ×2 of ${Math.round(journalBytes / 1024)} KiB, audit fdatasync, signed head)`,
        floor,
        'the 7 syncs every accept makes before its answer (the journal’s done, 1 more, follows it), timed without the accept, vs git apply of the 50 existing files (which never syncs)',
      ),
    );
  } finally {
    c.dispose();
    await d.stop();
  }
  return rows;
}

export async function run() {
  const rows = [];
  const top = mkdtempSync(path.join(os.tmpdir(), 'sbx-bench-big-'));
  const model = await startModelServer();
  try {
    const root = path.join(top, 'repo');
    mkdirSync(root);
    const t = performance.now();
    const edited = await makeRepo(root);
    const setupS = (performance.now() - t) / 1000;
    if (process.env.BENCH_VERBOSE) console.error(`bigrepo: ${FILES} files ready in ${setupS.toFixed(0)} s`);
    const loopFile = path.join(top, 'loop.json');
    const base = {
      SHADOWBOX_MODEL: 'openai/bench',
      OPENAI_BASE_URL: `${model.url}/v1`,
      OPENAI_API_KEY: 'k',
      SHADOWBOX_BENCH_LOOP_FILE: loopFile,
    };
    const env = MALLOC_DEFAULTS ? { ...base, GLIBC_TUNABLES: '' } : daemonStartEnv(base);

    // First checkpoint vs an idle window, each round on a fresh daemon (a first checkpoint happens once per daemon).
    const busy = { p99: [], max: [], rss: [], rssAfter: [], rtt: [], heap: [], native: [] };
    const idle = { p99: [], max: [], rss: [], rssAfter: [], rtt: [], heap: [], native: [] };
    const firstTurn = [];
    for (let r = 0; r < (ONLY_ACCEPT ? 0 : ROUNDS); r++) {
      const d = await startDaemon(env, ['--no-web'], ['--import', monitor]);
      const c = await connectSocket(d.socketPath);
      try {
        await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
        const s = await c.request({ method: 'session/create' }, { workspace: root });
        await settled(d); // start-up work (python's install and warm-up on a fresh state dir) ends first
        const window = async (kind, work) => {
          const start = await loopSnapshot(d, loopFile);
          const rss0 = d.rss();
          await work();
          const { worst } = await untilResponsive(c);
          const snap = await loopSnapshot(d, loopFile);
          const rssGrowth = d.rss() - rss0;
          if (MEM_FILE)
            appendFileSync(
              MEM_FILE,
              `${JSON.stringify({ round: r, kind, rssGrowth: rssGrowth / 1048576, start: start.mem, end: snap.mem })}\n`,
            );
          // Where the growth is (MiB): the main thread's V8 heap, and the anonymous memory outside it — mostly
          // glibc's malloc arenas, which keep what V8's compiler threads freed and give it back at a moment of
          // their choosing (docs/benchmarks.md, run 17).
          const heapGrowth = snap.mem.heapTotal - start.mem.heapTotal;
          const nativeGrowth = snap.mem.smaps.anon - start.mem.smaps.anon - heapGrowth;
          return { ...snap, rssGrowth, rssStart: rss0, worst, heapGrowth, nativeGrowth };
        };
        const note = (to, w) => {
          for (const k of ['p99', 'max']) to[k].push(w[k]);
          to.rss.push(w.rssGrowth / 1048576);
          to.rssAfter.push((w.rssStart + w.rssGrowth) / 1048576);
          to.rtt.push(w.worst);
          to.heap.push(w.heapGrowth);
          to.native.push(w.nativeGrowth);
        };
        // The daemon's first model turn, text only, on its own: it loads the model SDK and its HTTP client
        // (~35 MiB), which is not the checkpoint's to count.
        const first = await window('first-turn', async () => {
          model.push({ text: ['hello'] });
          await c.request({ method: 'session/prompt' }, { sessionId: s.sessionId, text: 'hi' });
        });
        firstTurn.push(first.rssGrowth / 1048576);
        await settled(d);
        let measuredMs = 0;
        const checkpoint = async () => {
          const t0 = performance.now();
          const w = await window('checkpoint', async () => {
            model.push({ toolCalls: writes(edited) }, { text: ['done'] });
            await c.request({ method: 'session/prompt' }, { sessionId: s.sessionId, text: 'edit 50 files' });
          });
          measuredMs = performance.now() - t0;
          note(busy, w);
        };
        const quiet = async () => {
          note(idle, await window('idle', () => sleep(Math.max(2000, measuredMs - 2000))));
        };
        // Alternate which comes first (the idle window after a checkpoint waits as long as the checkpoint took).
        if (r % 2 === 0) {
          await checkpoint();
          await quiet();
        } else {
          measuredMs = 4000;
          await quiet();
          await checkpoint();
        }
      } finally {
        c.dispose();
        await d.stop();
      }
    }
    const pair = (k, unit, note) => ({ subject: stats(busy[k]), baseline: stats(idle[k]), unit, note });
    const malloc = MALLOC_DEFAULTS ? "glibc's malloc defaults" : "the malloc tunables a client's auto-start sets";
    rows.push(
      row(
        "the daemon's first model turn (text only, before the checkpoint): RSS growth",
        { subject: stats(firstTurn), baseline: stats(idle.rss) },
        'loads the model SDK and its HTTP client; vs the idle windows',
        'MiB',
      ),
    );
    for (const [metric, k, unit, note] of [
      [`first checkpoint, ${FILES} files: event-loop delay p99`, 'p99', 'ms', 'goal ≤ 50 ms'],
      [`first checkpoint, ${FILES} files: event-loop delay max`, 'max', 'ms', ''],
      [`first checkpoint, ${FILES} files: longest session/list round trip`, 'rtt', 'ms', 'probed every 20 ms'],
      [`first checkpoint, ${FILES} files: RSS growth`, 'rss', 'MiB', `goal ≤ 20 MiB; ${malloc}`],
      [`first checkpoint, ${FILES} files: RSS at the end of the window`, 'rssAfter', 'MiB', 'what the daemon holds'],
      [
        `first checkpoint, ${FILES} files: growth of the main V8 heap (heap total)`,
        'heap',
        'MiB',
        "JS objects, compiled code, the young generation's capacity",
      ],
      [
        `first checkpoint, ${FILES} files: growth of the anonymous RSS outside the main V8 heap`,
        'native',
        'MiB',
        "malloc arenas: freed memory glibc keeps, or gives back when it chooses (with glibc's defaults, ±25 MiB in single windows)",
      ],
    ]) {
      const p = pair(k, unit, note);
      rows.push(
        row(
          metric,
          p,
          `${note ? `${note}; ` : ''}vs the same daemon idle over a window as long; a fresh daemon per round`,
          unit,
        ),
      );
    }

    if (ONLY_ACCEPT) rows.length = 0; // no first-checkpoint rounds ran: no rows of them
    if (!ONLY_CHECKPOINT) rows.push(...(await acceptRows({ env, model, root, edited, top })));
    rows.push({ metric: `setup: ${FILES} files written and committed`, value: Math.round(setupS), unit: 's' });
  } finally {
    await model.close();
    // git may still be writing in .git (auto gc) for a moment: retried, never hiding the run's own error.
    try {
      rmSync(top, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    } catch (e) {
      console.error(`bigrepo: could not remove ${top}: ${String(e)}`);
    }
  }
  return { name: 'bigrepo', rows };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await run();
  console.table(r.rows);
}
