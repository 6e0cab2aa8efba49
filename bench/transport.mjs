// Foundation benchmarks: request round trip and throughput over the Unix socket and the WebSocket,
// against a bare vscode-jsonrpc echo server, interleaved round by round (median, min–max); notification
// fan-out to 16 clients.
import { connectSocket, connectWebSocket } from '../clients/editor/dist/index.js';
import { startDaemon, percentile } from './lib/daemon.mjs';
import { startEcho } from './lib/echo.mjs';
import { row, stats } from './lib/interleave.mjs';

const RTT_N = 400;
const TP_N = 5000;
const IN_FLIGHT = 64;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

/** p50 and p99 (µs) of RTT_N sequential calls, after a warm-up. */
async function rtt(call) {
  for (let i = 0; i < 50; i++) await call();
  const times = [];
  for (let i = 0; i < RTT_N; i++) {
    const t = performance.now();
    await call();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50) * 1000, p99: percentile(times, 99) * 1000 };
}

/** Requests per second with IN_FLIGHT outstanding. */
async function throughput(call) {
  let sent = 0;
  const t = performance.now();
  const worker = async () => {
    while (sent < TP_N) {
      sent++;
      await call();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  return TP_N / ((performance.now() - t) / 1000);
}

export async function run() {
  const rows = [];
  // Start time and idle memory have their own interleaved rows in bench/start.mjs.
  const daemon = await startDaemon();
  const echo = await startEcho();
  try {
    const dSock = await connectSocket(daemon.socketPath);
    await dSock.initialize({ name: 'bench', kind: 'test' });
    const eSock = await connectSocket(echo.socketPath);
    const dWs = await connectWebSocket(daemon.webUrl, daemon.token);
    await dWs.initialize({ name: 'bench-ws', kind: 'test' });
    const eWs = await connectWebSocket(echo.url, 'x');
    const payload = { workspace: undefined };
    const calls = {
      socket: [
        () => dSock.connection.sendRequest('session/list', payload),
        () => eSock.connection.sendRequest('echo', payload),
      ],
      websocket: [
        () => dWs.connection.sendRequest('session/list', payload),
        () => eWs.connection.sendRequest('echo', payload),
      ],
    };
    for (const [transport, [d, e]] of Object.entries(calls)) {
      // Each round measures the daemon and the bare echo server back to back (the order flips each round).
      const p50 = { d: [], e: [] };
      const p99 = { d: [], e: [] };
      const tp = { d: [], e: [] };
      for (let r = 0; r < ROUNDS; r++) {
        for (const [k, call] of r % 2
          ? [
              ['e', e],
              ['d', d],
            ]
          : [
              ['d', d],
              ['e', e],
            ]) {
          const x = await rtt(call);
          p50[k].push(x.p50);
          p99[k].push(x.p99);
          tp[k].push(await throughput(call));
        }
      }
      const pair = (xs) => ({ subject: stats(xs.d), baseline: stats(xs.e) });
      rows.push(
        row(`${transport} round trip p50`, pair(p50), `vs a bare vscode-jsonrpc echo; ${RTT_N} calls a round`, 'µs'),
        row(`${transport} round trip p99`, pair(p99), 'vs a bare vscode-jsonrpc echo', 'µs'),
        row(
          `${transport} throughput (${IN_FLIGHT} in flight)`,
          pair(tp),
          `vs a bare vscode-jsonrpc echo; ${TP_N} requests a round; goal ≥ 0.5×`,
          'req/s',
        ),
      );
    }
    for (const c of [dSock, eSock, dWs, eWs]) c.dispose();
    const fanout = await import('./lib/fanout.mjs').catch(() => null);
    if (fanout) rows.push(...(await fanout.measureFanout(daemon, echo)));
  } finally {
    echo.stop();
    await daemon.stop();
  }
  return { name: 'transport', rows };
}
