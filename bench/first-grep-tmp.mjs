// throwaway: first grep through a fresh daemon, spawner lazy / early / off
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectSocket } from '../clients/editor/dist/index.js';
import { startDaemon } from './lib/daemon.mjs';
import { stats } from './lib/interleave.mjs';
const top = mkdtempSync(path.join(os.tmpdir(), 'sbx-first-'));
const root = path.join(top, 'ws');
for (let d = 0; d < 40; d++) { const dir = path.join(root, `m${d}`); mkdirSync(dir, { recursive: true }); for (let f = 0; f < 50; f++) writeFileSync(path.join(dir, `f${f}.ts`), `x\nuseState(${f})\n`.repeat(20)); }
const modes = ['lazy', 'early', '0'];
const res = Object.fromEntries(modes.map((m) => [m, { first: [], second: [], rss: [] }]));
const rounds = Number(process.env.R ?? 7);
for (let i = 0; i < rounds; i++) {
  for (const mode of i % 2 ? [...modes].reverse() : modes) {
    const d = await startDaemon({ SHADOWBOX_SPAWNER: mode }, ['--no-web']);
    await new Promise((r) => setTimeout(r, 1000));
    const c = await connectSocket(d.socketPath);
    await c.initialize({ name: 'bench', kind: 'test' }, { permissions: false });
    const { sessionId } = await c.request({ method: 'session/create' }, { workspace: root });
    const call = () => c.request({ method: 'tools/call' }, { sessionId, tool: 'grep', input: { pattern: 'useState\\(' } });
    let t = performance.now(); await call(); res[mode].first.push(performance.now() - t);
    t = performance.now(); await call(); res[mode].second.push(performance.now() - t);
    const kids = readFileSync(`/proc/${d.pid}/task/${d.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    const sp = kids.find((k) => readFileSync(`/proc/${k}/comm`, 'utf8').trim() === 'node');
    const rssOf = (p) => Number(readFileSync(`/proc/${p}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024;
    res[mode].rss.push(rssOf(d.pid) + (sp ? rssOf(sp) : 0));
    c.dispose();
    await d.stop();
  }
}
const f = (s) => `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})`;
for (const m of modes) console.log(`SHADOWBOX_SPAWNER=${m}: first grep ${f(stats(res[m].first))} ms, second ${f(stats(res[m].second))} ms, daemon+spawner RSS ${f(stats(res[m].rss))} MiB`);
rmSync(top, { recursive: true, force: true });
