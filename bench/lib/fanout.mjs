// Session event fan-out: one driver changes a setting (session/configure → meta.json written durably and a
// `settings_changed` event appended to the session log and fdatasynced, then sent to every attached client);
// measures the time from the request until the LAST of N attached clients has the event, for N = 1, 4, 16,
// over the Unix socket. Interleaved, round by round, with the bare alternative: a vscode-jsonrpc server that
// sends the same notification to N subscribed clients straight from memory (no meta, no log, no disk).
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { connectSocket } from '../../clients/editor/dist/index.js';
import { percentile } from './daemon.mjs';

const ROUNDS = 5;
const PER_ROUND = 60;
const WARMUP = 30;
const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => percentile(sorted(xs), 50);

async function daemonSide(daemon, ws, n) {
  const clients = [];
  for (let i = 0; i < n; i++) {
    const c = await connectSocket(daemon.socketPath);
    await c.initialize({ name: `fanout-${i}`, kind: 'test' }, { permissions: false });
    clients.push(c);
  }
  const driver = clients[0];
  const s = await driver.request({ method: 'session/create' }, { workspace: ws });
  for (const c of clients.slice(1))
    await c.request(
      { method: 'session/attach' },
      { sessionId: s.sessionId, driver: false, fromSeq: Number.MAX_SAFE_INTEGER },
    );
  const waiters = new Map();
  for (const c of clients)
    c.onEvent((e) => {
      if (e.sessionId !== s.sessionId || e.event.type !== 'settings_changed') return;
      const w = waiters.get(e.event.mode);
      if (w && --w.left === 0) w.resolve();
    });
  let i = 0;
  return {
    async sample() {
      const mode = i++ % 2 ? 'review' : 'auto';
      const done = new Promise((resolve) => waiters.set(mode, { left: n, resolve }));
      const t = performance.now();
      await driver.request({ method: 'session/configure' }, { sessionId: s.sessionId, mode });
      await done;
      return performance.now() - t;
    },
    close: () => clients.forEach((c) => c.dispose()),
  };
}

async function bareSide(echo, n) {
  const clients = [];
  let pending = null;
  for (let i = 0; i < n; i++) {
    const c = await connectSocket(echo.socketPath);
    await c.connection.sendRequest('fanout/subscribe', {});
    c.connection.onNotification('session/event', () => {
      if (pending && --pending.left === 0) pending.resolve();
    });
    clients.push(c);
  }
  return {
    async sample() {
      const done = new Promise((resolve) => (pending = { left: n, resolve }));
      const t = performance.now();
      await clients[0].connection.sendRequest('fanout/emit', { n: 1, sessionId: 'bare' });
      await done;
      return performance.now() - t;
    },
    close: () => clients.forEach((c) => c.dispose()),
  };
}

export async function measureFanout(daemon, echo) {
  const rows = [];
  const ws = mkdtempSync(path.join(os.tmpdir(), 'sbxf-'));
  try {
    for (const n of [1, 4, 16]) {
      const d = await daemonSide(daemon, ws, n);
      const b = echo ? await bareSide(echo, n) : null;
      for (let i = 0; i < WARMUP; i++) {
        await d.sample();
        if (b) await b.sample();
      }
      const dr = [];
      const br = [];
      const dAll = [];
      const bAll = [];
      for (let r = 0; r < ROUNDS; r++) {
        const dt = [];
        for (let i = 0; i < PER_ROUND; i++) dt.push(await d.sample());
        dr.push(median(dt));
        dAll.push(...dt);
        if (b) {
          const bt = [];
          for (let i = 0; i < PER_ROUND; i++) bt.push(await b.sample());
          br.push(median(bt));
          bAll.push(...bt);
        }
      }
      const dp50 = median(dAll) * 1000;
      const bp50 = b ? median(bAll) * 1000 : undefined;
      rows.push({
        metric: `event fan-out to ${n} client(s), p50`,
        value: dp50,
        unit: 'µs',
        ...(bp50 !== undefined ? { baseline: bp50, ratio: dp50 / bp50 } : {}),
        note:
          `session/configure → meta.json and the event fdatasynced → all ${n} have settings_changed; ` +
          `${ROUNDS} interleaved rounds of ${PER_ROUND}, round p50 ${(Math.min(...dr) * 1000).toFixed(0)}–${(Math.max(...dr) * 1000).toFixed(0)} µs, ` +
          `p99 ${(percentile(sorted(dAll), 99) * 1000).toFixed(0)} µs` +
          (b
            ? `; bare vscode-jsonrpc notification to ${n}: round p50 ${(Math.min(...br) * 1000).toFixed(0)}–${(Math.max(...br) * 1000).toFixed(0)} µs`
            : ''),
      });
      d.close();
      b?.close();
    }
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
  return rows;
}
