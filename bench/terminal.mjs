// Terminal client: cost of rendering (markdown per line, streamed deltas per second on a TTY and on a
// pipe) and how long `shadowbox chat` takes from process start to a ready session and out again
// (piped `/exit`) against a running daemon — with `shadowbox status` (same process start + connect)
// as the baseline in the same run.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pc from 'picocolors';
import { MarkdownLines } from '../clients/terminal/dist/markdown.js';
import { Screen } from '../clients/terminal/dist/screen.js';
import { Transcript } from '../clients/terminal/dist/transcript.js';
import { lookFor } from '../clients/terminal/dist/io.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'daemon/bin/shadowbox.js');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function sink(tty) {
  const out = new PassThrough();
  out.resume();
  if (tty) Object.assign(out, { isTTY: true, columns: 120 });
  return { env: {}, cwd: '/', stdout: out, stderr: out, stdin: new PassThrough() };
}

function deltasPerSecond(tty, n) {
  const io = sink(tty);
  const screen = new Screen(io, lookFor(io));
  const t = new Transcript(screen, () => 'me');
  const words = 'Here is **some** text with `code` and a [link](https://x.dev) that streams in '.split(/(?<= )/);
  let seq = 0;
  const time = new Date().toISOString();
  t.event({ sessionId: 's', seq: seq++, time, event: { type: 'turn_start', turnId: 't', model: 'm' } });
  const start = performance.now();
  for (let i = 0; i < n; i++) t.event({ sessionId: 's', seq: seq++, time, event: { type: 'message_delta', turnId: 't', text: i % 20 === 19 ? `${words[i % words.length]}\n` : words[i % words.length] } });
  const ms = performance.now() - start;
  t.event({ sessionId: 's', seq: seq++, time, event: { type: 'turn_end', turnId: 't', stopReason: 'end_turn' } });
  screen.close();
  return (n / ms) * 1000;
}

function runCli(args, env, input = '') {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - t) : reject(new Error(`${args.join(' ')} exited ${code}: ${err}`))));
    child.stdin.end(input);
  });
}

export async function run() {
  const rows = [];
  const md = new MarkdownLines(pc.createColors(true));
  const lines = ['# Heading', '- a **bold** item with `code`', 'plain prose line that is fairly long and has no markup at all in it', '1. step [link](https://example.org)', '> quoted *text*'];
  for (let i = 0; i < 2000; i++) md.line(lines[i % lines.length]);
  const n = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) md.line(lines[i % lines.length]);
  rows.push({ metric: 'markdown line render', value: ((performance.now() - t0) / n) * 1000, unit: 'µs/line', note: 'marked inline lexer + picocolors' });
  const tty = deltasPerSecond(true, 20_000);
  const pipe = deltasPerSecond(false, 20_000);
  rows.push({ metric: 'streamed deltas rendered (TTY: live line + redraw)', value: tty, unit: 'deltas/s', baseline: pipe, ratio: tty / pipe, note: 'baseline: the same deltas on a pipe (raw write)' });

  const state = await mkdtemp(path.join(os.tmpdir(), 'sbx-bench-term-'));
  const ws = await mkdtemp(path.join(os.tmpdir(), 'sbx-bench-ws-'));
  const env = { ...process.env, SHADOWBOX_STATE_DIR: state, SHADOWBOX_SOCKET: path.join(state, 'daemon.sock') };
  delete env.NODE_OPTIONS;
  const daemon = spawn(process.execPath, [bin, 'daemon', '--no-web'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await new Promise((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`daemon not ready: ${err}`)), 20_000);
      daemon.stderr.on('data', (d) => {
        err += d;
        if (err.includes('shadowbox daemon ready')) (clearTimeout(timer), resolve());
      });
    });
    const chat = [];
    const status = [];
    for (let i = 0; i < 7; i++) {
      status.push(await runCli(['status'], env));
      chat.push(await runCli(['chat', '--workspace', ws], env, '/exit\n'));
    }
    const c = median(chat);
    const s = median(status);
    rows.push({ metric: 'chat start → session ready → /exit (piped)', value: c, unit: 'ms', baseline: s, ratio: c / s, note: 'baseline: shadowbox status (process start + connect); median of 7' });
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    await rm(state, { recursive: true, force: true });
    await rm(ws, { recursive: true, force: true });
  }
  return { name: 'terminal', rows };
}
