// What starting a program costs the daemon's event loop, by the daemon's size. Node's child_process spawns through
// libuv, which on Linux fork()s: the kernel copies the parent's page tables while the calling thread waits, so the
// time `spawn()` blocks grows with the parent's resident memory (libuv/libuv#1715, #3520; nodejs/node#14917). The
// daemon spawns rg for grep (two to four runs per call), git for checkpoints and accepts, bubblewrap for the shell.
// Each row: a Node process holding `MiB` of touched memory (an idle daemon holds ~110, one after work at 100,000
// files ~200) times the synchronous part of 21 `spawn('/bin/true')` calls (median); the alternative is a bare Node
// process doing the same, in alternate rounds.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { interleaveMeasured, row } from './lib/interleave.mjs';

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
  return { name: 'spawn', rows };
}
