// What starting a program costs the daemon's event loop, by the daemon's size. Node's child_process spawns through
// libuv, which on Linux fork()s: the kernel copies the parent's page tables while the calling thread waits, so the
// time `spawn()` blocks grows with the parent's resident memory (libuv/libuv#1715, #3520; nodejs/node#14917). The
// daemon spawns rg for grep (two to four runs per call), git for checkpoints and accepts, bubblewrap for the shell.
// Each row: a Node process holding `MiB` of touched memory (an idle daemon holds ~110, one after work at 100,000
// files ~200) times the synchronous part of 21 `spawn('/bin/true')` calls (median); the alternative is a bare Node
// process doing the same, in alternate rounds. Then the same from a 500 MiB process through the daemon's spawner
// process (daemon/src/spawner/: the daemon sends it the request and gets rg's stdout pipe back) against a direct spawn
// from that process: what the event loop is blocked for, and the wall time from the call to the program's exit.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { interleaveMeasured, row, stats } from './lib/interleave.mjs';

const run$ = promisify(execFile);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const PROBE = `
const ballast = [];
for (let i = 0; i < Number(process.argv[1]); i++) ballast.push(Buffer.alloc(1 << 20, 1));
const { spawn } = require('node:child_process');
(async () => {
  const ms = [];
  for (let i = 0; i < 21; i++) {
    const t = performance.now();
    const c = spawn('/bin/true', { stdio: 'ignore' });
    ms.push(performance.now() - t);
    await new Promise((r) => c.once('exit', r));
  }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({ ms: ms[10], rss: process.memoryUsage.rss() / 1048576, kept: ballast.length }));
})();`;

// A process of `mib` MiB that starts /bin/true 21 times through a spawner (`mode`: 'process', the spawner process
// once it is ready; 'direct', child_process.spawn): median synchronous part and median call-to-exit time.
const SPAWNER_PROBE = `
const ballast = [];
for (let i = 0; i < Number(process.argv[1]); i++) ballast.push(Buffer.alloc(1 << 20, 1));
(async () => {
  const { createSpawner } = await import(process.argv[3]);
  const s = createSpawner({ mode: process.argv[2] });
  s.warm();
  while (process.argv[2] === 'process' && s.state() !== 'ready') await new Promise((r) => setTimeout(r, 5));
  const sync = [], wall = [];
  for (let i = 0; i < 21; i++) {
    const t = performance.now();
    const p = s.spawn('/bin/true', [], { cwd: '/', onStdout: () => undefined });
    sync.push(performance.now() - t);
    await p.exited;
    wall.push(performance.now() - t);
  }
  const med = (a) => a.sort((x, y) => x - y)[10];
  await s.close();
  console.log(JSON.stringify({ sync: med(sync), wall: med(wall), rss: process.memoryUsage.rss() / 1048576 }));
})();`;
const SPAWNER_INDEX = new URL('../daemon/dist/spawner/index.js', import.meta.url).href;

/** The spawner probe's medians, from a fresh process of `mib` MiB. */
async function throughSpawner(mib, mode) {
  const { stdout } = await run$(process.execPath, ['-e', SPAWNER_PROBE, String(mib), mode, SPAWNER_INDEX]);
  return JSON.parse(stdout);
}

/** Median synchronous spawn() time (ms) in a fresh Node process holding `mib` MiB of touched memory. */
async function blocked(mib) {
  const { stdout } = await run$(process.execPath, ['-e', PROBE, String(mib)]);
  return JSON.parse(stdout);
}

export async function run() {
  const rows = [];
  for (const mib of [70, 160, 500]) {
    let rss = 0;
    const r = await interleaveMeasured(
      ROUNDS,
      async () => {
        const o = await blocked(mib);
        rss = o.rss;
        return o.ms;
      },
      async () => (await blocked(0)).ms,
    );
    rows.push(
      row(
        `spawn() blocks the event loop, from a Node process of ${Math.round(rss)} MiB RSS`,
        r,
        `median of 21 spawn('/bin/true') per round, synchronous part; vs a bare Node process (~45 MiB)`,
      ),
    );
  }
  const viaSpawner = [];
  const direct = [];
  let rss = 0;
  const r = await interleaveMeasured(
    ROUNDS,
    async () => {
      const o = await throughSpawner(500, 'process');
      rss = o.rss;
      viaSpawner.push(o.wall);
      return o.sync;
    },
    async () => {
      const o = await throughSpawner(500, 'direct');
      direct.push(o.wall);
      return o.sync;
    },
  );
  rows.push(
    row(
      `spawn through the spawner process blocks the event loop, from a Node process of ${Math.round(rss)} MiB RSS`,
      r,
      'median of 21 /bin/true, synchronous part; vs a direct spawn() from the same size of process',
    ),
  );
  rows.push(
    row(
      `spawn through the spawner process, call to exit, from a Node process of ${Math.round(rss)} MiB RSS`,
      { subject: stats(viaSpawner), baseline: stats(direct) },
      'median of 21 /bin/true, from the call to its exit; vs a direct spawn() from the same size of process',
    ),
  );
  return { name: 'spawn', rows };
}
