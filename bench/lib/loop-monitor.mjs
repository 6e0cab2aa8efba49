// Preloaded into a benchmarked daemon (`node --import`): an event-loop delay histogram of its main
// thread (perf_hooks.monitorEventLoopDelay, 10 ms resolution). On SIGUSR2 it writes p50/p99/max (ms),
// the process RSS and where that memory is (`mem`, below) since the last signal to
// $SHADOWBOX_BENCH_LOOP_FILE and starts over.
// `mem`: process.memoryUsage() (V8 heap used/total, external, array buffers), the V8 heap spaces' used and
// committed sizes, /proc/self/smaps_rollup (anonymous vs file-backed RSS: malloc and V8 vs mapped code and
// files) and, with --expose-gc in the daemon's flags, the same figures again after a full collection
// (`afterGc`): what of the window's growth was garbage not yet collected. SHADOWBOX_BENCH_HEAP_DIR: a heap
// snapshot per signal there (slow: for a diagnosis, not for figures).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import v8 from 'node:v8';

const file = process.env.SHADOWBOX_BENCH_LOOP_FILE;
const heapDir = process.env.SHADOWBOX_BENCH_HEAP_DIR;
const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
const mib = (n) => Math.round((n / 1048576) * 10) / 10;

/** Rss, Anonymous and the file-backed rest of this process, MiB (null where /proc is not there). */
function rollup() {
  try {
    const t = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(t)?.[1] ?? NaN) * 1024;
    return { rss: mib(kb('Rss')), anon: mib(kb('Anonymous')), file: mib(kb('Rss') - kb('Anonymous')) };
  } catch {
    return null;
  }
}

function memory() {
  const u = process.memoryUsage();
  const spaces = Object.fromEntries(
    v8
      .getHeapSpaceStatistics()
      .map((s) => [s.space_name.replace(/_space$/, ''), { used: mib(s.space_used_size), size: mib(s.space_size) }]),
  );
  return {
    heapUsed: mib(u.heapUsed),
    heapTotal: mib(u.heapTotal),
    external: mib(u.external),
    arrayBuffers: mib(u.arrayBuffers),
    smaps: rollup(),
    spaces,
  };
}

let snapshots = 0;
if (file)
  process.on('SIGUSR2', () => {
    const ms = (ns) => Math.round(ns / 1e4) / 100;
    const rss = process.memoryUsage().rss;
    const mem = memory();
    if (typeof globalThis.gc === 'function') {
      globalThis.gc();
      mem.afterGc = memory();
    }
    if (heapDir) mem.snapshot = v8.writeHeapSnapshot(path.join(heapDir, `${process.pid}-${++snapshots}.heapsnapshot`));
    writeFileSync(
      file,
      JSON.stringify({
        p50: ms(h.percentile(50)),
        p99: ms(h.percentile(99)),
        max: ms(h.max),
        samples: h.count,
        rss,
        mem,
      }),
    );
    h.reset();
  });
