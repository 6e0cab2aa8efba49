#!/usr/bin/env node
// Captures a real `shadowbox chat` session for docs/terminal.md: the built shadowbox binary in a tmux
// terminal (100 columns) against a real daemon on a temp state dir whose model is the scripted model
// server (OpenAI wire format). Prints the final screen (`tmux capture-pane -p`) to stdout.
//   npm run build && node test/terminal/capture-transcript.mjs [--colors]
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startModelServer } from '../../daemon/dist/demo/model-server/index.js';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'daemon/bin/shadowbox.js');
const sock = `sbx-capture-${process.pid}`;
const tmux = (...args) => run('tmux', ['-L', sock, ...args]);
const colors = process.argv.includes('--colors');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const original = [
  '# Notes',
  '',
  'The build uses npm.',
  '',
  ...Array.from({ length: 12 }, (_, i) => `- item ${i + 1}`),
  '',
  'Contact: ops@example.org',
  '',
].join('\n');
const edited = original
  .replace('The build uses npm.', 'The build uses npm workspaces (`npm run build`).')
  .replace('Contact: ops@example.org', 'Contact: platform@example.org');

const model = await startModelServer({
  script: [
    {
      text: ['Let me look ', 'at the notes first.'],
      toolCalls: [{ name: 'read_file', arguments: { path: 'NOTES.md' } }],
    },
    {
      text: [
        '## Plan\n',
        '| line | now | after |\n',
        '|---|---|---|\n',
        '| 3 | The build uses npm. | says `npm run build` |\n',
        '| 18 | ops@example.org | **platform**@example.org |\n\n',
        'Writing `NOTES.md` now.',
      ],
      delayMs: 40,
      toolCalls: [{ name: 'write_file', arguments: { path: 'NOTES.md', content: edited } }],
    },
    {
      text: [
        'Done. Two changes wait in the shadow workspace:\n',
        '1. the build line\n',
        '2. the contact\n\n',
        'Use `/review` to see them.',
      ],
      delayMs: 40,
    },
  ],
});
const ws = await mkdtemp(path.join(os.tmpdir(), 'project-'));
const state = await mkdtemp(path.join(os.tmpdir(), 'sbx-'));
await writeFile(path.join(ws, 'NOTES.md'), original);
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
let err = '';
await new Promise((resolve, reject) => {
  daemon.stderr.on('data', (d) => {
    err += d;
    if (err.includes('shadowbox daemon ready')) resolve();
  });
  daemon.once('exit', (code) => reject(new Error(`daemon exited ${code}: ${err}`)));
});

async function capture() {
  const { stdout } = await tmux('capture-pane', '-p', '-J', ...(colors ? ['-e'] : []), '-t', 'a', '-S', '-2000');
  return stdout;
}
async function waitFor(text, ms = 20_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const s = await capture();
    if (s.includes(text)) return s;
    await sleep(100);
  }
  throw new Error(`never saw ${text}:\n${await capture()}`);
}
async function line(text) {
  await tmux('send-keys', '-t', 'a', '-l', text);
  await tmux('send-keys', '-t', 'a', 'Enter');
}

try {
  const vars = [
    'SHADOWBOX_STATE_DIR',
    'SHADOWBOX_SOCKET',
    'SHADOWBOX_MODEL',
    'OPENAI_BASE_URL',
    'OPENAI_API_KEY',
    'PATH',
    'HOME',
    'LANG',
  ].flatMap((k) => (env[k] ? ['-e', `${k}=${env[k]}`] : []));
  // write_file asks, so the run shows a permission question.
  await run(process.execPath, [bin, 'policy', 'ask', '--tool', 'write_file'], { env, cwd: ws });
  const cmd = `cd ${ws} && ${process.execPath} ${bin} chat; echo "[exit $?]"; sleep 600`;
  await tmux('new-session', '-d', '-s', 'a', '-x', '100', '-y', '80', '-e', 'TERM=xterm-256color', ...vars, cmd);
  await waitFor('you are the driver');
  await line('tidy up NOTES.md: say how the build runs and fix the contact');
  await waitFor('[n] deny');
  await sleep(300);
  // An ask rule: only allow once and deny are offered (a remembered allow would not silence it).
  await tmux('send-keys', '-t', 'a', 'y');
  await waitFor('— done');
  await line('/review');
  const review = await waitFor('accept with /accept');
  const ids = [...review.matchAll(/\[(NOTES\.md#[^\]]+)\]/g)].map((m) => m[1]);
  await line(`/accept ${ids[0]}`);
  await waitFor('recorded; /undo');
  await line('/audit 8');
  await waitFor('tool.call');
  await sleep(300);
  await tmux('send-keys', '-t', 'a', 'C-d');
  await waitFor('[exit');
  process.stdout.write(`${(await capture()).replace(/\s*\[exit 0\][\s\S]*$/, '')}\n`);
  const real = await readFile(path.join(ws, 'NOTES.md'), 'utf8');
  process.stderr.write(
    `real NOTES.md has the build line: ${real.includes('npm workspaces')}, the new contact: ${real.includes('platform@')}\n`,
  );
} finally {
  await tmux('kill-server').catch(() => undefined);
  const exited = new Promise((r) => daemon.once('exit', r));
  daemon.kill('SIGTERM');
  await exited;
  await model.close();
  await rm(ws, { recursive: true, force: true });
  await rm(state, { recursive: true, force: true });
}
