// Preloaded into a benchmarked daemon (`node --import`): an event-loop delay histogram of its main
// thread (perf_hooks.monitorEventLoopDelay, 10 ms resolution). On SIGUSR2 it writes p50/p99/max (ms)
// and the process RSS since the last signal to $SHADOWBOX_BENCH_LOOP_FILE and starts over.
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const file = process.env.SHADOWBOX_BENCH_LOOP_FILE;
const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
if (file)
  process.on('SIGUSR2', () => {
    const ms = (ns) => Math.round(ns / 1e4) / 100;
    writeFileSync(
      file,
      JSON.stringify({
        p50: ms(h.percentile(50)),
        p99: ms(h.percentile(99)),
        max: ms(h.max),
        samples: h.count,
        rss: process.memoryUsage().rss,
      }),
    );
    h.reset();
  });
