// Session event fan-out: one driver changes a setting (session/configure → a `settings_changed` event
// appended to the session log, then sent to every attached client); measures the time from the request
// until the LAST of N attached clients has the event, for N = 1, 4, 16, over the Unix socket.
import os from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { connectSocket } from '../../clients/editor/dist/index.js';
import { percentile } from './daemon.mjs';

const ROUNDS = 300;

export async function measureFanout(daemon) {
  const rows = [];
  const ws = mkdtempSync(path.join(os.tmpdir(), 'sbxf-'));
  try {
    for (const n of [1, 4, 16]) {
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
      const times = [];
      for (let i = 0; i < ROUNDS + 30; i++) {
        const mode = i % 2 ? 'review' : 'auto';
        const done = new Promise((resolve) => waiters.set(mode, { left: n, resolve }));
        const t = performance.now();
        await driver.request({ method: 'session/configure' }, { sessionId: s.sessionId, mode });
        await done;
        if (i >= 30) times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      rows.push({
        metric: `event fan-out to ${n} client(s), p50`,
        value: percentile(times, 50) * 1000,
        unit: 'µs',
        note: `session/configure → settings_changed logged and received by all ${n}; p99 ${(percentile(times, 99) * 1000).toFixed(0)} µs`,
      });
      for (const c of clients) c.dispose();
    }
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
  return rows;
}
