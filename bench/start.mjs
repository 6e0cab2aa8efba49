// Start time and memory (issue 20): CLI commands, daemon start → ready, the ACP bridge's spawn →
// initialize (daemon running, and cold: the bridge starts the daemon), idle RSS of the daemon and the
// bridge, and the floor under the ready line (Node and the daemon's bundle, nothing run: lib/bundle-floor.cjs).
// Every row interleaves its alternative over ≥ 5 rounds: `node -e ''` (the floor of any Node
// command), an idle `node` process (the floor of any Node RSS), and the smallest ACP agent the same
// SDK makes (bench/lib/acp-bare-agent.mjs). The CLI is the bundled build (`npm run build`), loaded
// through its V8 code cache as a person runs it.
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connectSocket, daemonStartEnv } from '../clients/editor/dist/index.js';
import { startModelServer } from '../daemon/dist/demo/model-server/index.js';
import { bin, HUGETLB_ALTERNATIVE, launcher, NO_NODE_PATH, startDaemon, startEnvOf } from './lib/daemon.mjs';
import { interleave, interleaveMeasured, row, stats } from './lib/interleave.mjs';
import { ndjsonPeer } from './lib/ndjson-peer.mjs';

const execFileP = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const bareAgent = path.join(here, 'lib', 'acp-bare-agent.mjs');
const bareStatus = path.join(here, 'lib', 'bare-status.cjs');
const bundleFloor = path.join(here, 'lib', 'bundle-floor.cjs');
const SETTLE_MS = 4000; // after ready: the background python warm-up has finished on this machine
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const rssMiB = (pid) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;
const nodeEmpty = () => execFileP(process.execPath, ['-e', '']);

/** An idle Node process's RSS after `SETTLE_MS` (the floor any Node daemon starts from). */
async function idleNodeRss() {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await sleep(SETTLE_MS);
  const mib = rssMiB(child.pid);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill();
  await exited;
  return mib;
}

/**
 * Spawns an ACP agent (`argv` under node, or under `file`: the native launcher), sends initialize and, when `cwd` is
 * given, session/new; resolves the times (ms from spawn) at which each was answered and the agent's RSS after them.
 * `during(peer)`, when given, runs before the agent is closed (to read the daemon's RSS with the editor attached).
 */
async function acpRound(argv, env, cwd, file, during) {
  const t0 = performance.now();
  const peer = ndjsonPeer(argv, env, undefined, file);
  await peer.call('initialize', { protocolVersion: 1, clientCapabilities: {} });
  const initMs = performance.now() - t0;
  let sessionMs;
  if (cwd) {
    await peer.call('session/new', { cwd, mcpServers: [] });
    sessionMs = performance.now() - t0;
  }
  const rss = rssMiB(peer.child.pid);
  await during?.(peer);
  await peer.close();
  return { initMs, sessionMs, rss };
}

/** Stops the daemon that holds `stateDir`'s lock (one a bridge auto-started) and waits until it is gone. */
async function stopLockHolder(stateDir) {
  const lock = path.join(stateDir, 'daemon.lock');
  if (!existsSync(lock)) return;
  const { pid } = JSON.parse(readFileSync(lock, 'utf8'));
  try {
    process.kill(pid, 'SIGTERM');
    for (;;) {
      process.kill(pid, 0);
      await sleep(20);
    }
  } catch {
    // gone
  }
}

/**
 * A copy of `stateDir` holding 100 sessions of one real 20-turn conversation (each turn a prompt and a 50-chunk
 * reply from the local model server), cloned under new session ids: what a start reads of a person's history.
 */
function makeHistory(stateDir, ws, dEnv) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbst-history-'));
  cpSync(stateDir, dir, { recursive: true, filter: (src) => !statSync(src).isSocket() });
  rmSync(path.join(dir, 'sessions'), { recursive: true, force: true });
  const ready = (async () => {
    const model = await startModelServer();
    const d = await startDaemon(
      {
        ...dEnv,
        SHADOWBOX_STATE_DIR: dir,
        SHADOWBOX_MODEL: 'openai/bench',
        OPENAI_BASE_URL: `${model.url}/v1`,
        OPENAI_API_KEY: 'k',
      },
      ['--no-web'],
    );
    let id;
    try {
      const c = await connectSocket(d.socketPath);
      await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
      id = (await c.request({ method: 'session/create' }, { workspace: ws })).sessionId;
      for (let t = 0; t < 20; t++) {
        model.push({ text: Array.from({ length: 50 }, (_, i) => `word${i} `) });
        await c.request({ method: 'session/prompt' }, { sessionId: id, text: `turn ${t}` });
      }
      c.dispose();
    } finally {
      await stopQuietly(d);
      await model.close();
    }
    const sessions = path.join(dir, 'sessions');
    const log = readFileSync(path.join(sessions, id, 'events.jsonl'), 'utf8');
    const meta = readFileSync(path.join(sessions, id, 'meta.json'), 'utf8');
    for (let i = 1; i < 100; i++) {
      const other = randomUUID();
      mkdirSync(path.join(sessions, other), { mode: 0o700 });
      writeFileSync(path.join(sessions, other, 'events.jsonl'), log.replaceAll(id, other), { mode: 0o600 });
      writeFileSync(path.join(sessions, other, 'meta.json'), meta.replaceAll(id, other), { mode: 0o600 });
    }
    // The copies have no index yet (and the original's is dropped): the first start reads every log whole.
    rmSync(path.join(sessions, id, 'log-index.json'), { force: true });
    const events = log.split('\n').filter(Boolean).length;
    return { count: 100, events, mib: ((log.length * 100) / 1048576).toFixed(1) };
  })();
  return { dir, ready };
}

export async function run() {
  const rows = [];
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const ws = mkdtempSync(path.join(os.tmpdir(), 'sbst-ws-'));
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'sbst-cache-'));
  env.SHADOWBOX_CACHE_DIR = cacheDir; // the code cache is written by the first run, then reused

  // CLI commands with no daemon needed, then with one running.
  const version = () => execFileP(process.execPath, [bin, '--version'], { env });
  await version();
  rows.push(row('shadowbox --version', await interleave(11, version, nodeEmpty), "vs node -e ''"));
  // What the native launcher costs a command it hands over to Node (every command but python -c): one exec more.
  if (launcher) {
    const viaLauncher = () => execFileP(launcher, ['--version'], { env });
    await viaLauncher();
    rows.push(
      row(
        'shadowbox --version through the native launcher',
        await interleave(11, viaLauncher, version),
        'daemon/bin/shadowbox handing over to node shadowbox.js, vs node shadowbox.js itself',
      ),
    );
  }

  // Daemon start → ready and idle RSS, on one state dir where python is installed (as a person's is), in
  // the environment a client's auto-start gives the daemon (its glibc malloc tunables: daemon-env.ts).
  const stateDir = mkdtempSync(path.join(os.tmpdir(), 'sbst-state-'));
  const dEnv = daemonStartEnv({ SHADOWBOX_CACHE_DIR: cacheDir });
  const noTunables = { SHADOWBOX_CACHE_DIR: cacheDir, GLIBC_TUNABLES: '' };
  {
    const d = await startDaemon({ ...dEnv, SHADOWBOX_STATE_DIR: stateDir }, ['--no-web']);
    const c = await connectSocket(d.socketPath);
    await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
    const s = await c.request({ method: 'session/create' }, { workspace: ws });
    await c.request({ method: 'tools/call' }, { sessionId: s.sessionId, tool: 'python', input: { code: 'pass' } });
    c.dispose();
    await stopQuietly(d);
  }
  const rss = [];
  const nodeRss = [];
  const ready = await interleaveMeasured(
    7,
    async () => {
      const d = await startDaemon({ ...dEnv, SHADOWBOX_STATE_DIR: stateDir }, ['--no-web']);
      await sleep(SETTLE_MS);
      rss.push(rssMiB(d.pid));
      await stopQuietly(d);
      return d.readyMs;
    },
    async () => {
      const t = performance.now();
      await nodeEmpty();
      const ms = performance.now() - t;
      nodeRss.push(await idleNodeRss());
      return ms;
    },
  );
  rows.push(
    row('daemon start → ready (bundle, code cache)', ready, "spawn to the ready line; vs node -e ''; goal ≤ 2×"),
  );
  // The part of that line no daemon code can remove: Node, then the bundle read and compiled from the daemon's own
  // code cache (made by the starts above) and its top-level code run, nothing else (bench/lib/bundle-floor.cjs).
  const floor = () => execFileP(process.execPath, [bundleFloor, bin], { env: { ...env, ...dEnv } });
  const floorRun = await interleave(11, floor, nodeEmpty);
  const own = ready.subject.median - floorRun.subject.median;
  const budget = 2 * floorRun.baseline.median - floorRun.subject.median;
  rows.push(
    row(
      'floor: node + the daemon bundle from its code cache',
      floorRun,
      `top-level code run, no main (no state dir, lock, wiring, socket); vs node -e ''; the daemon's own work: ` +
        `ready − this = ${own.toFixed(0)} ms, the ready goal leaves it 2 × node − this = ${budget.toFixed(0)} ms`,
    ),
  );
  // The installed bundles' tools load after ready (wiring.ts): what a request that needs tools waits for.
  const firstList = await interleaveMeasured(
    7,
    async () => {
      const t = performance.now();
      const d = await startDaemon({ ...dEnv, SHADOWBOX_STATE_DIR: stateDir }, ['--no-web']);
      const c = await connectSocket(d.socketPath);
      await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
      await c.request({ method: 'tools/list' }, {});
      const ms = performance.now() - t;
      c.dispose();
      await stopQuietly(d);
      return ms;
    },
    async () => {
      const t = performance.now();
      await nodeEmpty();
      return performance.now() - t;
    },
  );
  rows.push(
    row(
      'daemon start → first tools/list answered',
      firstList,
      "spawn, ready, initialize, tools/list (the bundle tools loaded after ready); vs node -e ''",
    ),
  );
  // BENCH_BASELINE_BIN (another build's daemon/bin/shadowbox.js): this build's start against that one's, alternating
  // on the same state dir, for before/after figures. Each round: spawn → ready, → initialize answered, → the first
  // tools/list answered.
  if (process.env.BENCH_BASELINE_BIN) {
    const base = process.env.BENCH_BASELINE_BIN;
    const marks = { subject: [], baseline: [] };
    // Each build its own code cache: in one folder, each build's save evicts the other's (loader.cjs keeps one
    // bundle version per name), and both would start without one.
    const baseCache = mkdtempSync(path.join(os.tmpdir(), 'sbst-basecache-'));
    // Each build in the environment its own clients start it in (startEnvOf).
    const baseEnv = await startEnvOf(base, { SHADOWBOX_CACHE_DIR: baseCache });
    const startOnce = async (binPath, into) => {
      const t = performance.now();
      const env = { ...(binPath === base ? baseEnv : dEnv), SHADOWBOX_STATE_DIR: stateDir };
      const d = await startDaemon(env, ['--no-web'], [], binPath);
      const c = await connectSocket(d.socketPath);
      await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
      const init = performance.now() - t;
      await c.request({ method: 'tools/list' }, {});
      into.push({ ready: d.readyMs, init, list: performance.now() - t });
      c.dispose();
      await stopQuietly(d);
      return d.readyMs;
    };
    await startOnce(base, []); // the baseline's own code cache
    await interleaveMeasured(
      15,
      () => startOnce(bin, marks.subject),
      () => startOnce(base, marks.baseline),
    );
    rmSync(baseCache, { recursive: true, force: true });
    for (const [key, what] of [
      ['ready', 'spawn → ready'],
      ['init', 'spawn → initialize answered'],
      ['list', 'spawn → first tools/list answered'],
    ])
      rows.push(
        row(
          `daemon ${what}, this build vs BENCH_BASELINE_BIN`,
          {
            subject: stats(marks.subject.map((m) => m[key])),
            baseline: stats(marks.baseline.map((m) => m[key])),
          },
          `the same state dir, builds alternating; baseline ${base}`,
        ),
      );
  }
  rows.push(
    row(
      `daemon idle RSS, ${SETTLE_MS / 1000} s after ready (CPython warmed)`,
      { subject: stats(rss), baseline: stats(nodeRss) },
      'vs an idle node process; goal ≤ 100 MiB',
      'MiB',
    ),
  );
  // Start with a person's history: 100 sessions of a 20-turn conversation (one real session, cloned under new
  // ids), against the same state dir without them. The first start after the history appears reads every log
  // whole and writes each one's index (sessions/log-index.ts); the rows are the starts after it.
  {
    const history = makeHistory(stateDir, ws, dEnv);
    const sessions = await history.ready;
    const first = await startDaemon({ ...dEnv, SHADOWBOX_STATE_DIR: history.dir }, ['--no-web']);
    const firstMs = first.readyMs;
    await stopQuietly(first);
    rows.push(
      row(
        `daemon start → ready with ${sessions.count} sessions of ${sessions.events} events (${sessions.mib} MiB of logs)`,
        await interleaveMeasured(
          7,
          async () => {
            const d = await startDaemon({ ...dEnv, SHADOWBOX_STATE_DIR: history.dir }, ['--no-web']);
            await stopQuietly(d);
            return d.readyMs;
          },
          async () => {
            const d = await startDaemon({ ...dEnv, SHADOWBOX_STATE_DIR: stateDir }, ['--no-web']);
            await stopQuietly(d);
            return d.readyMs;
          },
        ),
        `vs the same daemon on the state dir without them; the first start after they appeared (logs read whole, indexes written): ${Math.round(firstMs)} ms`,
      ),
    );
    rmSync(history.dir, { recursive: true, force: true });
  }
  // What the auto-start's malloc tunables take off: the same daemon started with and without them.
  const idleRss = async (e) => {
    const d = await startDaemon({ ...e, SHADOWBOX_STATE_DIR: stateDir }, ['--no-web']);
    await sleep(SETTLE_MS);
    const mib = rssMiB(d.pid);
    await stopQuietly(d);
    return mib;
  };
  rows.push(
    row(
      `daemon idle RSS, ${SETTLE_MS / 1000} s after ready, malloc tunables vs none`,
      await interleaveMeasured(
        7,
        () => idleRss(dEnv),
        () => idleRss(noTunables),
      ),
      "vs the same daemon with GLIBC_TUNABLES='' (glibc's defaults)",
      'MiB',
    ),
  );
  // What the huge-page tunable alone costs at idle (python's first call is what it gives: bench/python.mjs).
  rows.push(
    row(
      `daemon idle RSS, ${SETTLE_MS / 1000} s after ready, malloc tunables vs ${HUGETLB_ALTERNATIVE.label}`,
      await interleaveMeasured(
        9,
        () => idleRss(dEnv),
        () => idleRss({ ...dEnv, GLIBC_TUNABLES: HUGETLB_ALTERNATIVE.tunables }),
      ),
      `vs GLIBC_TUNABLES=${HUGETLB_ALTERNATIVE.tunables}`,
      'MiB',
    ),
  );
  // And after use: 20 python calls (each a fresh instance in the pooled worker), then the RSS it holds.
  const usedRss = async (e) => {
    const d = await startDaemon({ ...e, SHADOWBOX_STATE_DIR: stateDir }, ['--no-web']);
    const c = await connectSocket(d.socketPath);
    await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
    const s = await c.request({ method: 'session/create' }, { workspace: ws });
    for (let i = 0; i < 20; i++)
      await c.request({ method: 'tools/call' }, { sessionId: s.sessionId, tool: 'python', input: { code: 'pass' } });
    c.dispose();
    await sleep(1000);
    const mib = rssMiB(d.pid);
    await stopQuietly(d);
    return mib;
  };
  rows.push(
    row(
      'daemon RSS after 20 python calls, malloc tunables vs none',
      await interleaveMeasured(
        5,
        () => usedRss(dEnv),
        () => usedRss(noTunables),
      ),
      "vs the same daemon with GLIBC_TUNABLES='' (glibc's defaults); read 1 s after the last call",
      'MiB',
    ),
  );

  // With a daemon running: status, and the bridge.
  const d = await startDaemon({ ...dEnv, SHADOWBOX_STATE_DIR: stateDir }, ['--no-web']);
  const runEnv = { ...env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_SOCKET: d.socketPath };
  try {
    const status = () => execFileP(process.execPath, [bin, 'status'], { env: runEnv });
    await status();
    rows.push(row('shadowbox status (daemon running)', await interleave(11, status, nodeEmpty), "vs node -e ''"));
    // The floor of that row for any Node client: the same two requests with no library and no validation.
    const bare = () => execFileP(process.execPath, [bareStatus, d.socketPath], { env: runEnv });
    if (!/"pid":/.test((await bare()).stdout)) throw new Error('bench/lib/bare-status.cjs got no daemon/status result');
    rows.push(
      row(
        'a bare Node client: initialize + daemon/status (daemon running)',
        await interleave(11, bare, nodeEmpty),
        "bench/lib/bare-status.cjs (hand-written framing, no library, no validation, no output formatting) vs node -e '': the floor of the status row",
      ),
    );
    rows.push(
      row(
        'shadowbox status vs the bare Node client',
        await interleave(11, status, bare),
        'what the CLI adds over the floor: its bundle, the protocol schemas, the client library, the output',
      ),
    );
    // The bin a release installs: the native launcher answers status itself while a daemon runs (no node on PATH
    // here, so a hand-over to Node would fail the row).
    if (launcher) {
      const nativeStatus = () => execFileP(launcher, ['status'], { env: { ...runEnv, PATH: NO_NODE_PATH } });
      if (!/running \(pid/.test((await nativeStatus()).stdout)) throw new Error('the native launcher gave no status');
      rows.push(
        row(
          'shadowbox status through the native launcher (daemon running)',
          await interleave(11, nativeStatus, nodeEmpty),
          "daemon/bin/shadowbox (clients/launcher) vs node -e ''",
        ),
      );
    }

    const bridgeRss = [];
    const bareRss = [];
    const warm = await interleaveMeasured(
      9,
      async () => {
        const r = await acpRound([bin, 'acp'], runEnv, ws);
        bridgeRss.push(r.rss);
        return r.initMs;
      },
      async () => {
        const r = await acpRound([bareAgent], env);
        bareRss.push(r.rss);
        return r.initMs;
      },
    );
    rows.push(
      row('ACP bridge spawn → initialize (daemon running)', warm, 'vs a bare SDK agent; goal ≤ 150 ms'),
      row(
        'ACP bridge RSS after initialize + session/new',
        { subject: stats(bridgeRss), baseline: stats(bareRss) },
        'vs a bare SDK agent after initialize; goal ≤ 40 MiB',
        'MiB',
      ),
    );
    // The bin a release installs: the native launcher relays the editor to the bridge the daemon hosts (its ACP
    // socket). No node on PATH: a hand-over to the Node bridge would fail the row.
    if (launcher) {
      const relayEnv = { ...runEnv, PATH: NO_NODE_PATH };
      await acpRound(['acp'], relayEnv, ws, launcher);
      const relayRss = [];
      const relayBareRss = [];
      const relay = await interleaveMeasured(
        9,
        async () => {
          const r = await acpRound(['acp'], relayEnv, ws, launcher);
          relayRss.push(r.rss);
          return r.initMs;
        },
        async () => {
          const r = await acpRound([bareAgent], env);
          relayBareRss.push(r.rss);
          return r.initMs;
        },
      );
      const viaNode = await interleaveMeasured(
        9,
        async () => (await acpRound(['acp'], relayEnv, ws, launcher)).sessionMs,
        async () => (await acpRound([bin, 'acp'], runEnv, ws)).sessionMs,
      );
      rows.push(
        row(
          'ACP bridge spawn → initialize through the native launcher (daemon running)',
          relay,
          'the launcher relaying to the bridge the daemon hosts, vs a bare SDK agent; goal ≤ 150 ms',
        ),
        row(
          'ACP bridge spawn → session/new answered, the launcher vs the Node bridge (daemon running)',
          viaNode,
          'spawn to session/new answered: daemon/bin/shadowbox acp vs node shadowbox.js acp',
        ),
        row(
          'ACP bridge RSS through the native launcher after initialize + session/new',
          { subject: stats(relayRss), baseline: stats(relayBareRss) },
          'the process beside the editor (the launcher) vs a bare SDK agent; goal ≤ 40 MiB',
          'MiB',
        ),
      );
    }

    // What the bridge's V8 flags (daemon/bin/shadowbox.js) take off: the same rounds with Node's defaults.
    const plainCache = path.join(cacheDir, 'plain');
    await acpRound([bin, 'acp'], { ...runEnv, SHADOWBOX_ACP_V8_FLAGS: '', SHADOWBOX_CACHE_DIR: plainCache }, ws);
    const flags = await interleaveMeasured(
      5,
      async () => (await acpRound([bin, 'acp'], runEnv, ws)).rss,
      // Its own cache folder: V8 refuses a code cache made under other flags (each side would rewrite it).
      async () =>
        (await acpRound([bin, 'acp'], { ...runEnv, SHADOWBOX_ACP_V8_FLAGS: '', SHADOWBOX_CACHE_DIR: plainCache }, ws))
          .rss,
    );
    rows.push(
      row(
        'ACP bridge RSS after initialize + session/new, its V8 flags vs none',
        flags,
        "vs the same bridge with Node's defaults (SHADOWBOX_ACP_V8_FLAGS='')",
        'MiB',
      ),
    );
  } finally {
    await stopQuietly(d);
  }

  // Cold: no daemon; the bridge starts one (fresh state dir each round, bundle installed in the background).
  const newSession = [];
  const cold = await interleaveMeasured(
    5,
    async (i) => {
      const dir = path.join(cacheDir, `cold-${i}`);
      mkdirSync(dir);
      const e = { ...env, SHADOWBOX_STATE_DIR: dir, SHADOWBOX_SOCKET: path.join(dir, 'daemon.sock') };
      try {
        const r = await acpRound([bin, 'acp'], e, ws);
        newSession.push(r.sessionMs);
        return r.initMs;
      } finally {
        await stopLockHolder(dir);
      }
    },
    async () => (await acpRound([bareAgent], env)).initMs,
  );
  // Cold through the launcher: it starts the daemon itself, answers initialize as the bridge would meanwhile, and
  // relays once the daemon's ACP socket answers; against the Node bridge, which does the same as a Node process.
  if (launcher) {
    const coldRound = async (i, side, argv, file) => {
      const dir = path.join(cacheDir, `cold-${side}-${i}`);
      mkdirSync(dir);
      const e = { ...env, SHADOWBOX_STATE_DIR: dir, SHADOWBOX_SOCKET: path.join(dir, 'daemon.sock') };
      try {
        return await acpRound(argv, e, ws, file);
      } finally {
        await stopLockHolder(dir);
      }
    };
    const initMs = { launcher: [], node: [] };
    const sessionMs = { launcher: [], node: [] };
    const rss = { launcher: [], node: [] };
    for (let i = 0; i < 5; i++) {
      // The order flips every round, as interleave() does.
      const first = i % 2 ? () => coldRound(i, 'n', [bin, 'acp']) : () => coldRound(i, 'l', ['acp'], launcher);
      const second = i % 2 ? () => coldRound(i, 'l', ['acp'], launcher) : () => coldRound(i, 'n', [bin, 'acp']);
      const a = await first();
      const b = await second();
      const [l, n] = i % 2 ? [b, a] : [a, b];
      initMs.launcher.push(l.initMs);
      initMs.node.push(n.initMs);
      sessionMs.launcher.push(l.sessionMs);
      sessionMs.node.push(n.sessionMs);
      rss.launcher.push(l.rss);
      rss.node.push(n.rss);
    }
    rows.push(
      row(
        'ACP bridge spawn → initialize through the native launcher (cold: it starts the daemon)',
        { subject: stats(initMs.launcher), baseline: stats(initMs.node) },
        'vs the Node bridge (both answer initialize while the daemon starts); 5 interleaved rounds; goal ≤ 400 ms',
      ),
      row(
        'ACP bridge spawn → session/new answered through the native launcher (cold)',
        { subject: stats(sessionMs.launcher), baseline: stats(sessionMs.node) },
        'vs the Node bridge; 5 interleaved rounds, each on a fresh state dir',
      ),
      row(
        'ACP bridge RSS through the native launcher (cold start), after initialize + session/new',
        { subject: stats(rss.launcher), baseline: stats(rss.node) },
        'the process beside the editor when it started the daemon, vs the Node bridge that did; goal ≤ 40 MiB',
        'MiB',
      ),
    );
  }
  // What hosting editors costs the daemon: a fresh daemon's RSS with one editor attached through the launcher (the
  // first loads the bridge's code into the daemon) against the same daemon's RSS before it came.
  if (launcher) {
    const before = [];
    const attached = [];
    for (let i = 0; i < 5; i++) {
      const dd = await startDaemon({ ...dEnv, SHADOWBOX_STATE_DIR: stateDir }, ['--no-web']);
      try {
        await sleep(SETTLE_MS);
        before.push(rssMiB(dd.pid));
        const e = { ...env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_SOCKET: dd.socketPath, PATH: NO_NODE_PATH };
        await acpRound(['acp'], e, ws, launcher, async () => {
          await sleep(1000);
          attached.push(rssMiB(dd.pid));
        });
      } finally {
        await stopQuietly(dd);
      }
    }
    rows.push(
      row(
        'daemon RSS with one editor attached through the launcher (initialize + session/new)',
        { subject: stats(attached), baseline: stats(before) },
        `vs the same daemon before it came (${SETTLE_MS / 1000} s after ready): what hosting the bridge costs the daemon`,
        'MiB',
      ),
    );
  }
  rows.push(
    row('ACP bridge spawn → initialize (cold: no daemon)', cold, 'vs a bare SDK agent; goal ≤ 400 ms'),
    row(
      'ACP bridge spawn → session/new answered (cold: starts the daemon)',
      { subject: stats(newSession), baseline: cold.baseline },
      'vs a bare SDK agent’s initialize',
    ),
  );
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(cacheDir, { recursive: true, force: true });
  rmSync(ws, { recursive: true, force: true });
  return { name: 'start', rows };
}

/** Stops a bench daemon; its state dir is kept (startDaemon's stop removes it, so kill directly). */
async function stopQuietly(d) {
  const exited = new Promise((r) => d.child.once('exit', r));
  d.child.kill('SIGTERM');
  await exited;
}
