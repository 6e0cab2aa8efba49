// grep through the real shadow view (the session's layered view, as the daemon's tools see it) against
// `rg` on the same tree, at 2,000 and 20,000 files, interleaved over ≥ 5 rounds; plus the same call
// searched in process (rg off) and the state dir's growth over all the greps (reads must not copy files
// into the layer). Needs the built daemon (npm run build) and ripgrep (scripts/setup.sh installs it).
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createShadowService } from '../daemon/dist/shadow/index.js';
import { createSpawner } from '../daemon/dist/spawner/index.js';
import { createBuiltinTools, createToolRuntime, findRipgrep } from '../daemon/dist/tools/index.js';
import { connectSocket } from '../clients/editor/dist/index.js';
import { startDaemon } from './lib/daemon.mjs';
import { interleave, interleaveMeasured, row, stats, time } from './lib/interleave.mjs';

const run$ = promisify(execFile);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const PATTERN = 'useState\\(';

/** `files` TypeScript-like files (~3 KiB) in folders of 50, a .gitignore; every file has 2–3 matching lines. */
function makeTree(root, files) {
  const body = (d, f) =>
    Array.from({ length: 80 }, (_, k) =>
      k % 37 === (d + f) % 37
        ? `  const value${k} = useState(${k}); // needle ${d}/${f}`
        : `  const line${k} = compute(${k}, "${d}-${f}");`,
    ).join('\n');
  for (let d = 0; d < files / 50; d++) {
    const dir = path.join(root, 'src', `pkg${d % 20}`, `m${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 50; f++)
      writeFileSync(path.join(dir, `file${f}.ts`), `export function f${f}() {\n${body(d, f)}\n}\n`);
  }
  writeFileSync(path.join(root, '.gitignore'), 'dist/\n');
}

/** Bytes under a folder (0 when it does not exist: reads alone never create the session's layer). */
function du(dir) {
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? du(p) : statSync(p).size;
  }
  return n;
}

export async function run() {
  const rg = findRipgrep();
  if (!rg) return { name: 'grep', rows: [], error: 'ripgrep (rg) is not installed: scripts/setup.sh installs it' };
  const rows = [];
  if (!process.env.BENCH_GREP_NO_DAEMON) rows.push(...(await fixedCost(rg)), ...(await throughDaemons()));
  if (process.env.BENCH_GREP_FIRST) rows.push(...(await firstGrep()));
  if (process.env.BENCH_GREP_BASE_DIST) rows.push(...(await inOneProcess(rg, process.env.BENCH_GREP_BASE_DIST)));
  if (process.env.BENCH_GREP_ONLY_DAEMONS) return { name: 'grep', rows };
  // rg starts from a spawner process, as in the daemon (BENCH_GREP_SPAWNER=0: forked from this process).
  const spawner = createSpawner({ mode: process.env.BENCH_GREP_SPAWNER === '0' ? 'direct' : 'process' });
  spawner.warm();
  while (spawner.state() === 'starting') await new Promise((r) => setTimeout(r, 5));
  for (const files of [2_000, 20_000]) {
    const top = mkdtempSync(path.join(os.tmpdir(), 'sbx-bench-grep-'));
    try {
      const root = path.join(top, 'ws');
      const stateDir = path.join(top, 'state');
      mkdirSync(root);
      makeTree(root, files);
      const svc = createShadowService({ stateDir, audit: QUIET.audit, logger: QUIET.logger });
      const view = await svc.view('bench', root);
      const session = (withRg) =>
        toolSession({ createToolRuntime, createBuiltinTools }, { rg: withRg ? rg : null, spawner, root, view });
      const fast = session(true);
      const slow = session(false);
      const signal = new AbortController().signal;
      let id = 0;
      const grep = (tools, max = 5000) =>
        tools.call({
          turnId: 't',
          callId: `c${++id}`,
          name: 'grep',
          input: { pattern: PATTERN, max_matches: max },
          signal,
        });
      const first = await grep(fast, 5000);
      const want = (await rg$(rg, root, 5000)).stdout.trim().split('\n').length;
      if (first.data.matches !== want) throw new Error(`grep found ${first.data.matches} lines, rg ${want}`);
      const stateBefore = du(stateDir);
      const many = await interleave(
        ROUNDS,
        () => grep(fast, 5000),
        () => rg$(rg, root, 5000),
      );
      rows.push(
        row(
          `grep ${files} files, first 5000 matching lines, through the shadow view`,
          many,
          'vs rg -n | head -5000 on the same tree (spawned)',
        ),
      );
      const capped = await interleave(
        ROUNDS,
        () => grep(fast, 200),
        () => rg$(rg, root, 200),
      );
      rows.push(row(`grep ${files} files, first 200 lines (the tool's default)`, capped, 'vs rg -n | head -200'));
      const none = await interleave(
        ROUNDS,
        () =>
          fast.call({
            turnId: 't',
            callId: `c${++id}`,
            name: 'grep',
            input: { pattern: 'no_such_token_anywhere' },
            signal,
          }),
        () => run$(rg, ['-n', '--no-require-git', 'no_such_token_anywhere', '.'], { cwd: root }).catch(() => undefined),
      );
      rows.push(row(`grep ${files} files, no match`, none, 'vs rg -n (spawned)'));
      // The floor of the no-match rows: grep hands rg explicit file lists (rg never walks into what the view
      // hides); the same rg given every file of the tree as an argument, against rg walking the folder.
      const listed = readdirSync(root, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile() && e.name !== '.gitignore')
        .map((e) => path.relative(root, path.join(e.parentPath ?? e.path, e.name)))
        .sort();
      const rgArgs = ['-n', '--no-require-git', '--no-ignore', 'no_such_token_anywhere'];
      const floor = await interleave(
        ROUNDS,
        () => run$(rg, [...rgArgs, '--', ...listed], { cwd: root, maxBuffer: 1 << 20 }).catch(() => undefined),
        () => run$(rg, [...rgArgs, '.'], { cwd: root }).catch(() => undefined),
      );
      rows.push(
        row(
          `rg alone, no match, ${files} files given as paths`,
          floor,
          'vs the same rg walking the folder (both spawned, no daemon): what explicit lists cost rg itself',
        ),
      );
      const inProc = await interleave(
        5,
        () => grep(slow, 5000),
        () => grep(fast, 5000),
      );
      rows.push(row(`grep ${files} files in process (rg off) vs with rg`, inProc, 'the fallback when rg is absent'));
      const growth = du(stateDir) - stateBefore;
      rows.push({
        metric: `state dir growth over ${ROUNDS * 3 + 5 * 2} greps of ${files} files`,
        value: growth,
        unit: 'bytes',
        note: 'reads must not copy the files they read into the layer',
      });
      await svc.close();
    } finally {
      rmSync(top, { recursive: true, force: true });
    }
  }
  await spawner.close();
  return { name: 'grep', rows };
}

/**
 * What one grep costs whatever the tree: a 10-file workspace, a pattern found nowhere, through a real
 * daemon (tools/call over the socket: RPC, policy, the write-ahead audit entry, the tool, the outcome's
 * entry) against spawning rg on the same folder.
 */
export async function fixedCost(rg) {
  const top = mkdtempSync(path.join(os.tmpdir(), 'sbx-bench-grep-fixed-'));
  const daemon = await startDaemon({}, ['--no-web']);
  try {
    const root = path.join(top, 'ws');
    mkdirSync(root);
    for (let i = 0; i < 10; i++) writeFileSync(path.join(root, `f${i}.ts`), `export const x${i} = ${i};\n`);
    const c = await connectSocket(daemon.socketPath);
    await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
    const { sessionId } = await c.request({ method: 'session/create' }, { workspace: root });
    const call = () =>
      c.request({ method: 'tools/call' }, { sessionId, tool: 'grep', input: { pattern: 'no_such_token_anywhere' } });
    for (let i = 0; i < 3; i++) {
      const r = await call();
      if (r.isError || !/^No matches/.test(r.content)) throw new Error(`grep through the daemon: ${r.content}`);
    }
    const m = await interleave(ROUNDS * 3, call, () =>
      run$(rg, ['-n', '--no-require-git', 'no_such_token_anywhere', '.'], { cwd: root }).catch(() => undefined),
    );
    // The same pipeline around a tool that does next to nothing: read_file of a one-line file.
    const rd = await interleave(ROUNDS * 3, call, () =>
      c.request({ method: 'tools/call' }, { sessionId, tool: 'read_file', input: { path: 'f0.ts' } }),
    );
    c.dispose();
    const f = (x) => `${x.median.toFixed(1)} (${x.min.toFixed(1)}–${x.max.toFixed(1)})`;
    return [
      row(
        'grep through the daemon, 10 files, no match (the fixed cost: RPC, policy, audit, tool)',
        m,
        `vs rg -n on the same folder (spawned); a read_file tools/call on the same session, interleaved with grep: ${f(rd.baseline)} ms vs grep ${f(rd.subject)}`,
      ),
    ];
  } finally {
    await daemon.stop();
    rmSync(top, { recursive: true, force: true });
  }
}

/**
 * grep through two real daemons, interleaved call by call on the same trees (2,000 and 20,000 files; 5,000 lines, 200,
 * no match): this build, which starts rg from its spawner process, against BENCH_GREP_BASE_BIN (another build's bin,
 * e.g. main's) or, without it, this build with SHADOWBOX_SPAWNER=0 (rg forked from the daemon). BENCH_GREP_BALLAST_MIB
 * grows both daemons by that many MiB of touched memory first (a daemon after work holds 150–250 MiB), where a fork
 * of the daemon costs most. Also the daemons' and the spawner's RSS at the end.
 */
export async function throughDaemons() {
  const baseBin = process.env.BENCH_GREP_BASE_BIN;
  const ballastMib = Number(process.env.BENCH_GREP_BALLAST_MIB ?? 0);
  const top = mkdtempSync(path.join(os.tmpdir(), 'sbx-bench-grep-ab-'));
  const ballast = path.join(top, 'ballast.cjs');
  writeFileSync(
    ballast,
    `globalThis.__benchBallast = Array.from({ length: ${ballastMib} }, () => Buffer.alloc(1 << 20, 1));\n`,
  );
  const execArgv = ballastMib > 0 ? ['--require', ballast] : [];
  const rows = [];
  const subject = await startDaemon({}, ['--no-web'], execArgv);
  const base = baseBin
    ? await startDaemon({}, ['--no-web'], execArgv, baseBin)
    : await startDaemon({ SHADOWBOX_SPAWNER: '0' }, ['--no-web'], execArgv);
  const against = baseBin
    ? `the build at ${baseBin}`
    : 'this build with SHADOWBOX_SPAWNER=0 (rg forked from the daemon)';
  const grown = ballastMib > 0 ? `, daemons grown by ${ballastMib} MiB` : '';
  try {
    for (const files of [2_000, 20_000]) {
      const root = path.join(top, `ws${files}`);
      mkdirSync(root);
      makeTree(root, files);
      const callers = [];
      for (const d of [subject, base]) {
        const c = await connectSocket(d.socketPath);
        await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
        const { sessionId } = await c.request({ method: 'session/create' }, { workspace: root });
        const call = async (input) => {
          const r = await c.request({ method: 'tools/call' }, { sessionId, tool: 'grep', input });
          if (r.isError) throw new Error(`grep through the daemon: ${r.content}`);
          return r.content;
        };
        callers.push({ c, call });
      }
      const kinds = [
        ['first 5000 matching lines', { pattern: PATTERN, max_matches: 5000 }],
        ["first 200 lines (the tool's default)", { pattern: PATTERN }],
        ['no match', { pattern: 'no_such_token_anywhere' }],
      ];
      for (const [label, input] of kinds) {
        const [a, b] = [await callers[0].call(input), await callers[1].call(input)]; // warm both, same answer
        if (a !== b) throw new Error(`the two daemons answer ${label} differently`);
        await callers[0].call(input);
        await callers[1].call(input);
        const spawnerPid = childNode(subject.pid);
        const cpu0 = [cpuMs(subject.pid), cpuMs(base.pid), spawnerPid ? cpuMs(spawnerPid) : 0];
        const m = await interleave(
          ROUNDS,
          () => callers[0].call(input),
          () => callers[1].call(input),
        );
        const cpu = [cpuMs(subject.pid), cpuMs(base.pid), spawnerPid ? cpuMs(spawnerPid) : 0].map(
          (v, i) => v - cpu0[i],
        );
        const per = (v) => (v / ROUNDS).toFixed(1);
        rows.push(
          row(
            `grep through the daemon, ${files} files, ${label}${grown}`,
            m,
            `vs ${against}; daemon CPU per call ${per(cpu[0])} vs ${per(cpu[1])} ms (+ ${per(cpu[2])} in the spawner process)`,
          ),
        );
      }
      for (const { c } of callers) c.dispose();
    }
    const mib = (n) => Math.round(n / 1048576);
    const spawnerPid = childNode(subject.pid);
    rows.push({
      metric: `daemon RSS after the greps${grown}`,
      value: mib(subject.rss()),
      unit: 'MiB',
      baseline: mib(base.rss()),
      note: `this build vs ${against}; this build's spawner process: ${spawnerPid ? `${mib(rssOf(spawnerPid))} MiB` : 'none'}`,
    });
  } finally {
    await subject.stop();
    await base.stop();
    rmSync(top, { recursive: true, force: true });
  }
  return rows;
}

/**
 * The first grep of a fresh daemon (BENCH_GREP_FIRST=1; a new daemon per round and mode, 2,000 files, the default 200
 * lines, a second after it), made as a direct call BENCH_GREP_FIRST_WAIT_MS after session/create (default 0: a scripted
 * client's case): with the default spawner (started when a turn starts, so here, with no turn, by the first grep's
 * first rg run, which forks the daemon), on first need only (SHADOWBOX_SPAWNER=lazy: the same here), at the ready
 * line (=early) and off (=0), the modes in turn, and the daemon's RSS plus its spawner's after both calls.
 */
export async function firstGrep() {
  const top = mkdtempSync(path.join(os.tmpdir(), 'sbx-bench-grep-first-'));
  const root = path.join(top, 'ws');
  mkdirSync(root);
  makeTree(root, 2_000);
  const modes = ['', 'lazy', 'early', '0'];
  const wait = Number(process.env.BENCH_GREP_FIRST_WAIT_MS ?? 0);
  const res = Object.fromEntries(modes.map((m) => [m, { first: [], second: [], rss: [] }]));
  try {
    for (let i = 0; i < ROUNDS; i++) {
      for (const mode of i % 2 ? [...modes].reverse() : modes) {
        const d = await startDaemon({ SHADOWBOX_SPAWNER: mode }, ['--no-web']);
        try {
          await new Promise((r) => setTimeout(r, 1000)); // a person's first prompt comes later than the ready line
          const c = await connectSocket(d.socketPath);
          await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
          const { sessionId } = await c.request({ method: 'session/create' }, { workspace: root });
          await new Promise((r) => setTimeout(r, wait));
          const call = () =>
            c.request({ method: 'tools/call' }, { sessionId, tool: 'grep', input: { pattern: PATTERN } });
          res[mode].first.push(await time(call));
          res[mode].second.push(await time(call));
          const sp = childNode(d.pid);
          res[mode].rss.push((d.rss() + (sp ? rssOf(sp) : 0)) / 1048576);
          c.dispose();
        } finally {
          await d.stop();
        }
      }
    }
  } finally {
    rmSync(top, { recursive: true, force: true });
  }
  const f = (x) => `${x.median.toFixed(1)} (${x.min.toFixed(1)}–${x.max.toFixed(1)})`;
  const each = (k, digits) => modes.map((m) => stats(res[m][k]).median.toFixed(digits)).join(' / ');
  return [
    row(
      `a fresh daemon's first grep (a direct call, no turn), 2000 files, 200 lines, ${wait} ms after session/create`,
      { subject: stats(res[''].first), baseline: stats(res['0'].first) },
      `vs the spawner off (SHADOWBOX_SPAWNER=0); on first need only ${f(stats(res.lazy.first))}, at the ready line ${f(stats(res.early.first))} ms; second call (default / first need / ready / off) ${each('second', 1)} ms; daemon + spawner RSS ${each('rss', 0)} MiB`,
    ),
  ];
}

/**
 * This build's grep against another build's (BENCH_GREP_BASE_DIST: the absolute path of its daemon/dist, its imports
 * resolvable from there, e.g. a copy of main's dist beside a link to this checkout's node_modules), in this one process,
 * call by call on the same trees through each build's own shadow view, tool runtime and spawner process (2,000 and
 * 20,000 files; 5,000 lines, 200, no match; 3 × ROUNDS rounds): the comparison that decides between two builds when
 * the machine's load moves rg's own time between runs. Also this process's CPU per call (the rg processes excluded).
 */
export async function inOneProcess(rg, baseDist) {
  const load = async (dist) => ({
    shadow: await import(path.join(dist, 'shadow/index.js')),
    spawner: await import(path.join(dist, 'spawner/index.js')),
    tools: await import(path.join(dist, 'tools/index.js')),
  });
  const builds = [await load(fileURLToPath(new URL('../daemon/dist/', import.meta.url))), await load(baseDist)];
  const spawners = builds.map((b) => b.spawner.createSpawner({ mode: 'process' }));
  for (const s of spawners) {
    s.warm();
    while (s.state() === 'starting') await new Promise((r) => setTimeout(r, 5));
  }
  const rounds = ROUNDS * 3;
  const rows = [];
  try {
    for (const files of [2_000, 20_000]) {
      const top = mkdtempSync(path.join(os.tmpdir(), 'sbx-bench-grep-one-'));
      const root = path.join(top, 'ws');
      mkdirSync(root);
      makeTree(root, files);
      const services = [];
      try {
        const calls = [];
        for (const [i, b] of builds.entries()) {
          const svc = b.shadow.createShadowService({
            stateDir: path.join(top, `state${i}`),
            audit: QUIET.audit,
            logger: QUIET.logger,
          });
          services.push(svc);
          const view = await svc.view('bench', root);
          const tools = toolSession(b.tools, { rg, spawner: spawners[i], root, view });
          let id = 0;
          calls.push((input) =>
            tools.call({ turnId: 't', callId: `c${++id}`, name: 'grep', input, signal: new AbortController().signal }),
          );
        }
        for (const [label, input] of [
          ['first 5000 matching lines', { pattern: PATTERN, max_matches: 5000 }],
          ["first 200 lines (the tool's default)", { pattern: PATTERN }],
          ['no match', { pattern: 'no_such_token_anywhere' }],
        ]) {
          const [a, b] = [await calls[0](input), await calls[1](input)];
          if (a.content !== b.content) throw new Error(`the two builds answer ${label} differently`);
          const cpu = [[], []];
          // The longest the event loop was held during a call (what another client's request could wait).
          const held = [[], []];
          const measured = (i) => async () => {
            const loop = monitorEventLoopDelay({ resolution: 1 });
            loop.enable();
            const c0 = process.cpuUsage();
            const ms = await time(() => calls[i](input));
            const c = process.cpuUsage(c0);
            loop.disable();
            cpu[i].push((c.user + c.system) / 1000);
            held[i].push(loop.max / 1e6);
            return ms;
          };
          const m = await interleaveMeasured(rounds, measured(0), measured(1));
          const per = (i) => stats(cpu[i]).median.toFixed(1);
          const stall = (i) => `${stats(held[i]).median.toFixed(1)} (max ${Math.max(...held[i]).toFixed(1)})`;
          rows.push(
            row(
              `grep in one process, ${files} files, ${label}`,
              m,
              `vs the build at ${baseDist}, call by call; this process's CPU per call ${per(0)} vs ${per(1)} ms (median); ` +
                `longest event-loop stall per call ${stall(0)} vs ${stall(1)} ms`,
            ),
          );
        }
      } finally {
        for (const svc of services) await svc.close();
        rmSync(top, { recursive: true, force: true });
      }
    }
  } finally {
    for (const s of spawners) await s.close();
  }
  return rows;
}

/** What the benches' tool sessions run with: nothing audited or logged, every call allowed. */
const QUIET = {
  audit: { append: async () => undefined },
  logger: { info() {}, warn() {}, error() {}, debug() {}, close: async () => undefined },
  policy: { decide: async () => ({ action: 'allow', rule: 'bench' }), grant: async () => undefined },
};

/** A tool session over `view` from a build's tools module (this build's or another's: inOneProcess). */
function toolSession(tools, { rg, spawner, root, view }) {
  return tools.createToolRuntime({ tools: tools.createBuiltinTools({ rg, spawner }), ...QUIET }).forSession({
    sessionId: 'bench',
    workspace: root,
    mode: () => 'review',
    ask: async () => ({ outcome: 'deny' }),
    view: async () => view,
  });
}

/** A process's CPU time so far, user + system (ms; /proc counts in clock ticks, 10 ms here). */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

/** A process's resident memory (bytes). */
function rssOf(pid) {
  return Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) * 1024;
}

/** The first child of `pid` that runs node (a daemon's spawner process), or null. */
function childNode(pid) {
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return kids.map(Number).find((k) => readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'node') ?? null;
}

/** rg's first `n` lines, as a person piping to head would get them. */
function rg$(rg, root, n) {
  return run$('sh', ['-c', `'${rg}' -n --no-require-git '${PATTERN}' . | head -${n}`], {
    cwd: root,
    maxBuffer: 64 << 20,
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await run();
  console.table(r.rows);
}
