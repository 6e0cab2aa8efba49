// Terminal client: cost of rendering (markdown per line, streamed deltas per second on a TTY and on a
// pipe) and how long `shadowbox chat` takes from process start to a ready session and out again
// (piped `/exit`) against a running daemon — with `shadowbox status` (same process start + connect)
// as the baseline in the same run — and, in a real terminal (tmux), Enter → first words on screen and
// Ctrl-C → "turn cancelled" on screen.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pc from 'picocolors';
import { MarkdownLines } from '../clients/terminal/dist/markdown.js';
import { Screen } from '../clients/terminal/dist/screen.js';
import { Transcript } from '../clients/terminal/dist/transcript.js';
import { lookFor } from '../clients/terminal/dist/io.js';
import { hunkLines } from '../clients/terminal/dist/diff-format.js';
import { HIGHLIGHT_MAX_CHARS } from '../clients/terminal/dist/highlight.js';
import { interleave, interleaveMeasured, row, stats } from './lib/interleave.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'daemon/bin/shadowbox.js');

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
  for (let i = 0; i < n; i++)
    t.event({
      sessionId: 's',
      seq: seq++,
      time,
      event: {
        type: 'message_delta',
        turnId: 't',
        text: i % 20 === 19 ? `${words[i % words.length]}\n` : words[i % words.length],
      },
    });
  const ms = performance.now() - start;
  t.event({ sessionId: 's', seq, time, event: { type: 'turn_end', turnId: 't', stopReason: 'end_turn' } });
  screen.close();
  return (n / ms) * 1000;
}

/**
 * /review's hunk lines with colors on: syntax colors (highlight.js) and word marks, per line, against the same
 * lines colored by their +/- prefix only (the review before highlighting), interleaved over 7 rounds. Two
 * sizes: 120 edited TypeScript pairs (under HIGHLIGHT_MAX_CHARS: highlighted) and 1000 pairs (over it: word
 * marks only).
 */
export async function reviewRows() {
  const on = pc.createColors(true);
  const prefixOnly = (l) => (l.startsWith('+') ? on.green(l) : l.startsWith('-') ? on.red(l) : l);
  const out = [];
  for (const pairs of [120, 1000]) {
    const hunk = [];
    for (let i = 0; i < pairs; i++) {
      hunk.push(`-  const value${i} = compute(input, { retries: ${i % 7}, label: 'old label ${i}' }); // first`);
      hunk.push(`+  const value${i} = compute(input, { retries: ${(i + 1) % 7}, label: 'new label ${i}' }); // second`);
    }
    const r = await interleave(
      7,
      () => hunkLines(hunk, on, 'typescript'),
      () => hunk.map(prefixOnly),
    );
    const perLine = (st) => ({
      ...st,
      median: (st.median * 1000) / hunk.length,
      min: (st.min * 1000) / hunk.length,
      max: (st.max * 1000) / hunk.length,
    });
    const chars = hunk.reduce((n, l) => n + l.length, 0);
    out.push(
      row(
        `/review hunk lines, ${hunk.length} TypeScript lines (${chars > HIGHLIGHT_MAX_CHARS ? 'over the highlight cap: word marks only' : 'syntax colors + word marks'})`,
        { subject: perLine(r.subject), baseline: perLine(r.baseline) },
        `${chars} chars; baseline: the same lines colored by their +/- prefix only`,
        'µs/line',
      ),
    );
  }
  return out;
}

function runCli(args, env, input = '') {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) =>
      code === 0 ? resolve(performance.now() - t) : reject(new Error(`${args.join(' ')} exited ${code}: ${err}`)),
    );
    child.stdin.end(input);
  });
}

export async function run() {
  const rows = [];
  const md = new MarkdownLines(pc.createColors(true));
  const lines = [
    '# Heading',
    '- a **bold** item with `code`',
    'plain prose line that is fairly long and has no markup at all in it',
    '1. step [link](https://example.org)',
    '> quoted *text*',
  ];
  for (let i = 0; i < 2000; i++) md.line(lines[i % lines.length]);
  const n = 20_000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) md.line(lines[i % lines.length]);
  rows.push({
    metric: 'markdown line render',
    value: ((performance.now() - t0) / n) * 1000,
    unit: 'µs/line',
    note: 'marked inline lexer + picocolors',
  });
  // TTY and pipe alternate, 7 rounds of 5,000 deltas a side.
  rows.push(
    row(
      'streamed deltas rendered (TTY: live line + redraw)',
      await interleaveMeasured(
        7,
        () => deltasPerSecond(true, 5_000),
        () => deltasPerSecond(false, 5_000),
      ),
      'vs the same deltas on a pipe (raw write); 5,000 deltas a side a round',
      'deltas/s',
    ),
  );

  rows.push(...(await reviewRows()));

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
    rows.push(
      row(
        'chat start → session ready → /exit (piped)',
        await interleaveMeasured(
          7,
          () => runCli(['chat', '--workspace', ws], env, '/exit\n'),
          () => runCli(['status'], env),
        ),
        'vs shadowbox status (process start + connect)',
      ),
    );
  } finally {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon.once('exit', r));
    await rm(state, { recursive: true, force: true });
    await rm(ws, { recursive: true, force: true });
  }
  rows.push(...(await inTmux()));
  return { name: 'terminal', rows };
}

/**
 * A person's view, measured in a real terminal (tmux) against a daemon on the scripted model server:
 * Enter → the first streamed words on screen, and Ctrl-C during a slow stream → "turn cancelled" on
 * screen. Screens are polled with capture-pane, whose round trip is the baseline (the resolution).
 */
async function inTmux() {
  const exec = promisify(execFile);
  try {
    await exec('tmux', ['-V']);
  } catch {
    return [];
  }
  const { startModelServer } = await import('../daemon/dist/demo/model-server/index.js');
  const model = await startModelServer();
  const state = await mkdtemp(path.join(os.tmpdir(), 'sbx-bench-tm-'));
  const ws = await mkdtemp(path.join(os.tmpdir(), 'sbx-bench-ws-'));
  const sock = `sbx-bench-${process.pid}`;
  const tmux = (...args) => exec('tmux', ['-L', sock, ...args]);
  const env = {
    ...process.env,
    SHADOWBOX_STATE_DIR: state,
    SHADOWBOX_SOCKET: path.join(state, 'daemon.sock'),
    SHADOWBOX_MODEL: 'openai/test-model',
    OPENAI_BASE_URL: `${model.url}/v1`,
    OPENAI_API_KEY: 'test',
  };
  delete env.NODE_OPTIONS;
  const daemon = spawn(process.execPath, [bin, 'daemon', '--no-web'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const capture = async () => (await tmux('capture-pane', '-p', '-J', '-t', 'b', '-S', '-3000')).stdout;
  const waitFor = async (fn) => {
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      if (fn(await capture())) return performance.now();
    }
    throw new Error(`bench terminal: the screen never matched:\n${await capture()}`);
  };
  try {
    await new Promise((resolve) =>
      daemon.stderr.on('data', (d) => String(d).includes('shadowbox daemon ready') && resolve()),
    );
    const vars = ['SHADOWBOX_STATE_DIR', 'SHADOWBOX_SOCKET', 'PATH', 'HOME'].flatMap((k) => ['-e', `${k}=${env[k]}`]);
    await tmux(
      'new-session',
      '-d',
      '-s',
      'b',
      '-x',
      '120',
      '-y',
      '40',
      '-e',
      'TERM=xterm-256color',
      ...vars,
      `${process.execPath} ${bin} chat --workspace ${ws}; sleep 600`,
    );
    await waitFor((s) => s.includes('you are the driver'));
    const first = [];
    const cancel = [];
    const poll = [];
    const count = (s, x) => s.split(x).length - 1;
    for (let i = 0; i < 5; i++) {
      let t = performance.now();
      await capture();
      poll.push(performance.now() - t);
      model.push(
        { text: [`first words ${i} `, 'and more.'] },
        { text: Array.from({ length: 300 }, (_, j) => `chunk${j} `), delayMs: 100 },
      );
      await tmux('send-keys', '-t', 'b', '-l', `prompt ${i}`);
      t = performance.now();
      await tmux('send-keys', '-t', 'b', 'Enter');
      first.push((await waitFor((s) => s.includes(`first words ${i}`))) - t);
      await waitFor((s) => count(s, '— done') === i + 1);
      await tmux('send-keys', '-t', 'b', '-l', `slow ${i}`);
      await tmux('send-keys', '-t', 'b', 'Enter');
      await waitFor((s) => count(s, 'chunk3 ') > i);
      t = performance.now();
      await tmux('send-keys', '-t', 'b', 'C-c');
      cancel.push((await waitFor((s) => count(s, '⊘ turn cancelled') === i + 1)) - t);
    }
    // Each round polls capture-pane once before its two measurements: the baseline is interleaved with them.
    return [
      row(
        'Enter → first streamed words on screen (tmux)',
        { subject: stats(first), baseline: stats(poll) },
        'real daemon, OpenAI provider, scripted model server; baseline: one capture-pane round trip (the resolution)',
      ),
      row(
        'Ctrl-C mid-stream → "turn cancelled" on screen (tmux)',
        { subject: stats(cancel), baseline: stats(poll) },
        'model streaming a chunk per 100 ms; baseline: one capture-pane round trip',
      ),
    ];
  } finally {
    await tmux('kill-server').catch(() => undefined);
    const exited = new Promise((r) => daemon.once('exit', r));
    daemon.kill('SIGTERM');
    await exited;
    await model.close();
    await rm(state, { recursive: true, force: true });
    await rm(ws, { recursive: true, force: true });
  }
}

// `node bench/terminal.mjs` runs this bench alone and prints its rows (no results file is written).
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { rows } = await run();
  for (const r of rows)
    console.log(
      `${r.metric}: ${r.value.toFixed(r.value >= 100 ? 0 : 2)} ${r.unit}${r.baseline !== undefined ? ` (baseline ${r.baseline.toFixed(r.baseline >= 100 ? 0 : 2)}, ${r.ratio.toFixed(2)}×)` : ''}${r.note ? ` — ${r.note}` : ''}`,
    );
}
