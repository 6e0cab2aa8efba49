// Agent loop costs (issue 3): per-turn overhead with an instant scripted model (the daemon's prompt round
// trip minus the same model call made directly with the OpenAI SDK), a turn with one tool call, streamed
// notifications/s fanned out to 3 attached clients (issue target ≥ 20k/s), and memory per idle session. Real daemon process, Unix socket.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { connectSocket } from '../clients/editor/dist/index.js';
import { startModelServer } from '../daemon/dist/demo/model-server/index.js';
import { percentile, startDaemon } from './lib/daemon.mjs';
import { startEcho } from './lib/echo.mjs';

const TURNS = 150;
const sorted = (xs) => [...xs].sort((a, b) => a - b);

export async function run() {
  const rows = [];
  const model = await startModelServer();
  const daemon = await startDaemon(
    { SHADOWBOX_MODEL: 'openai/bench', OPENAI_BASE_URL: `${model.url}/v1`, OPENAI_API_KEY: 'k' },
    ['--no-web'],
  );
  const echo = await startEcho();
  const ws = mkdtempSync(path.join(os.tmpdir(), 'sbxa-'));
  writeFileSync(path.join(ws, 'a.txt'), 'hello\n'.repeat(100));
  const clients = [];
  try {
    // Baseline: the same streamed completion, called directly with the SDK.
    const sdk = new OpenAI({ baseURL: `${model.url}/v1`, apiKey: 'k', maxRetries: 0 });
    const direct = [];
    for (let i = 0; i < TURNS + 20; i++) {
      model.push({ text: ['ok'] });
      const t = performance.now();
      const s = await sdk.chat.completions.create({
        model: 'bench',
        stream: true,
        messages: [{ role: 'user', content: 'hi' }],
      });
      for await (const event of s) void event;
      if (i >= 20) direct.push(performance.now() - t);
    }

    const c = await connectSocket(daemon.socketPath);
    await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
    clients.push(c);
    const s = await c.request({ method: 'session/create' }, { workspace: ws });
    const turn = [];
    for (let i = 0; i < TURNS + 20; i++) {
      model.push({ text: ['ok'] });
      const t = performance.now();
      await c.request({ method: 'session/prompt' }, { sessionId: s.sessionId, text: 'hi' });
      if (i >= 20) turn.push(performance.now() - t);
    }
    const d50 = percentile(sorted(direct), 50);
    const t50 = percentile(sorted(turn), 50);
    rows.push({
      metric: 'prompt → end_turn, instant model, p50',
      value: t50,
      unit: 'ms',
      baseline: d50,
      ratio: t50 / d50,
      note: 'baseline: the same streamed model call made directly with the OpenAI SDK',
    });
    rows.push({
      metric: 'loop overhead per turn (excl. model time)',
      value: t50 - d50,
      unit: 'ms',
      note: 'event log appends, fan-out, context fitting, checkpoint check, meta write',
    });

    const tool = [];
    for (let i = 0; i < 60; i++) {
      model.push({ toolCalls: [{ name: 'read_file', arguments: { path: 'a.txt' } }] }, { text: ['ok'] });
      const t = performance.now();
      await c.request({ method: 'session/prompt' }, { sessionId: s.sessionId, text: 'read' });
      if (i >= 10) tool.push(performance.now() - t);
    }
    const tool50 = percentile(sorted(tool), 50);
    rows.push({
      metric: 'turn with one read_file call, p50',
      value: tool50,
      unit: 'ms',
      baseline: 2 * d50,
      ratio: tool50 / (2 * d50),
      note: 'two model calls + policy + audit + shadow view read; baseline: two direct SDK calls',
    });

    // Notifications/s: one reply of 5000 chunks, streamed to 3 attached clients (the driver and two watchers),
    // each event on disk (group commit) before it is sent; interleaved, round by round, with the bare
    // alternative: a vscode-jsonrpc server sending 5000 notifications to 3 clients from memory.
    const N = 5000;
    const ROUNDS = 5;
    const watchers = [];
    for (let i = 0; i < 2; i++) {
      const w = await connectSocket(daemon.socketPath);
      await w.initialize({ name: `w${i}`, kind: 'test' }, { permissions: false });
      await w.request({ method: 'session/attach' }, { sessionId: s.sessionId, fromSeq: Number.MAX_SAFE_INTEGER });
      watchers.push(w);
      clients.push(w);
    }
    let got = 0;
    for (const w of [c, ...watchers]) w.onEvent((e) => e.event.type === 'message_delta' && got++);
    const bare = [];
    let bareGot = 0;
    for (let i = 0; i < 3; i++) {
      const b = await connectSocket(echo.socketPath);
      await b.connection.sendRequest('fanout/subscribe', {});
      b.connection.onNotification('session/event', () => bareGot++);
      bare.push(b);
      clients.push(b);
    }
    const waitFor = async (cond) => {
      while (!cond()) await new Promise((r) => setTimeout(r, 2));
    };
    const ours = [];
    const theirs = [];
    for (let r = 0; r < ROUNDS; r++) {
      got = 0;
      model.push({ text: Array.from({ length: N }, (_, i) => `t${i} `) });
      let t0 = performance.now();
      await c.request({ method: 'session/prompt' }, { sessionId: s.sessionId, text: 'stream' });
      await waitFor(() => got >= 3 * N);
      ours.push((3 * N) / ((performance.now() - t0) / 1000));
      bareGot = 0;
      t0 = performance.now();
      await bare[0].connection.sendRequest('fanout/emit', { n: N, sessionId: 'bare' });
      await waitFor(() => bareGot >= 3 * N);
      theirs.push((3 * N) / ((performance.now() - t0) / 1000));
    }
    const om = percentile(sorted(ours), 50);
    const tm = percentile(sorted(theirs), 50);
    rows.push({
      metric: 'notification fan-out to 3 clients (streamed deltas)',
      value: om,
      unit: 'notifications/s',
      baseline: tm,
      ratio: om / tm,
      note: `${N} deltas × 3 clients, each on disk (fdatasync per batch) before it is sent; median of ${ROUNDS} interleaved rounds, range ${Math.min(...ours).toFixed(0)}–${Math.max(...ours).toFixed(0)}; baseline: bare vscode-jsonrpc server, 5000 notifications × 3 from memory, range ${Math.min(...theirs).toFixed(0)}–${Math.max(...theirs).toFixed(0)}; target ≥ 20k/s`,
    });

    // Memory per idle session.
    const before = daemon.rss();
    const M = 200;
    for (let i = 0; i < M; i++) await c.request({ method: 'session/create' }, { workspace: ws });
    await new Promise((r) => setTimeout(r, 300));
    rows.push({
      metric: 'memory per idle session',
      value: (daemon.rss() - before) / M / 1024,
      unit: 'KiB',
      note: `RSS growth over ${M} new sessions`,
    });
  } finally {
    for (const x of clients) x.dispose();
    await daemon.stop();
    echo.stop();
    await model.close();
    rmSync(ws, { recursive: true, force: true });
  }
  return { name: 'agent', rows };
}
