// Foundation benchmarks: request round trip and throughput over the Unix socket and the WebSocket,
// against a bare vscode-jsonrpc echo server in the same run; notification fan-out to 3 clients;
// daemon start → ready and idle RSS.
import { connectSocket, connectWebSocket } from '../clients/editor/dist/index.js';
import { startDaemon, percentile } from './lib/daemon.mjs';
import { startEcho } from './lib/echo.mjs';

const RTT_N = 2000;
const TP_N = 20000;
const IN_FLIGHT = 64;

async function rtt(call) {
  for (let i = 0; i < 200; i++) await call();
  const times = [];
  for (let i = 0; i < RTT_N; i++) {
    const t = performance.now();
    await call();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50) * 1000, p99: percentile(times, 99) * 1000 };
}

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
  const daemon = await startDaemon();
  rows.push({
    metric: 'daemon start → ready',
    value: daemon.readyMs,
    unit: 'ms',
    note: 'spawn to "ready" line, includes Node start',
  });
  await new Promise((r) => setTimeout(r, 500));
  rows.push({ metric: 'daemon idle RSS', value: daemon.rss() / 2 ** 20, unit: 'MiB' });
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
      const rd = await rtt(d);
      const re = await rtt(e);
      rows.push({
        metric: `${transport} round trip p50`,
        value: rd.p50,
        unit: 'µs',
        baseline: re.p50,
        ratio: rd.p50 / re.p50,
        note: 'baseline: bare vscode-jsonrpc echo',
      });
      rows.push({
        metric: `${transport} round trip p99`,
        value: rd.p99,
        unit: 'µs',
        baseline: re.p99,
        ratio: rd.p99 / re.p99,
      });
      const td = await throughput(d);
      const te = await throughput(e);
      rows.push({
        metric: `${transport} throughput (${IN_FLIGHT} in flight)`,
        value: td,
        unit: 'req/s',
        baseline: te,
        ratio: td / te,
        note: 'goal ≥ 0.5× the bare echo server',
      });
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
