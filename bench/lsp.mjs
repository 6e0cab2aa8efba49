// Language server (`shadowbox lsp`): process start → `initialize` answered, interleaved with a bare
// vscode-languageserver server (the floor for any Node LSP server) and the ACP bridge's start → `initialize`;
// and one accept through the editor — code action → executeCommand → the diagnostic gone (file not open:
// the daemon writes it), and into an open buffer (→ workspace/applyEdit answered) — interleaved with the
// same accept as a plain `shadow/accept` socket request and as `shadowbox accept FILE#HUNK`.
// Every row: median and min–max over ROUNDS interleaved rounds against a running daemon.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver-protocol/node';
import { connectSocket } from '../clients/editor/dist/index.js';
import { startModelServer } from '../daemon/dist/demo/model-server/index.js';
import { bin, startDaemon } from './lib/daemon.mjs';

const ROUNDS = 7;
const settle = () => new Promise((r) => setTimeout(r, 250));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const range = (xs) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} ms`;
const bare = new URL('./lib/lsp-bare-server.mjs', import.meta.url).pathname;

/** Spawns an LSP server on stdio; resolves with the connection once `initialize` is answered, and the time it took. */
async function lspInitialize(args, env, rootUri) {
  const t = performance.now();
  const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'ignore'] });
  const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  conn.listen();
  await conn.sendRequest('initialize', {
    processId: process.pid,
    rootUri,
    capabilities: { workspace: { applyEdit: true } },
  });
  const ms = performance.now() - t;
  return { ms, conn, child };
}

async function stop({ conn, child }) {
  const exited = new Promise((r) => child.once('exit', r));
  await conn.sendRequest('shutdown').catch(() => undefined);
  await conn.sendNotification('exit').catch(() => undefined);
  await exited;
  conn.dispose();
}

/** `shadowbox acp` start → ACP `initialize` answered (one JSON line each way). */
function acpInitialize(env) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [bin, 'acp'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdout.once('data', () => {
      const ms = performance.now() - t;
      child.once('exit', () => resolve(ms));
      child.stdin.end();
    });
    child.once('error', reject);
    child.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 1 } })}\n`,
    );
  });
}

function cli(args, env, cwd) {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn(process.execPath, [bin, ...args], { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.once('exit', (code) => (code === 0 ? resolve(performance.now() - t) : reject(new Error(err))));
  });
}

export async function run() {
  const rows = [];
  const model = await startModelServer();
  const daemon = await startDaemon(
    { SHADOWBOX_MODEL: 'openai/test-model', OPENAI_BASE_URL: `${model.url}/v1`, OPENAI_API_KEY: 'x' },
    ['--no-web'],
  );
  const ws = mkdtempSync(path.join(os.tmpdir(), 'sbxlsp-'));
  const lines = Array.from({ length: 200 }, (_, i) => `line ${i}`).join('\n') + '\n';
  for (const f of ['lsp.txt', 'buf.txt', 'sock.txt', 'cli.txt']) writeFileSync(path.join(ws, f), lines);
  const rootUri = pathToFileURL(ws).href;
  const env = daemon.env;
  try {
    // 1. Start → initialize answered.
    const t = { lsp: [], bare: [], acp: [] };
    for (let i = 0; i < ROUNDS; i++) {
      const l = await lspInitialize([bin, 'lsp'], env, rootUri);
      t.lsp.push(l.ms);
      await stop(l);
      const b = await lspInitialize([bare], env, rootUri);
      t.bare.push(b.ms);
      await stop(b);
      t.acp.push(await acpInitialize(env));
    }
    rows.push({
      metric: 'lsp: spawn → initialize answered (daemon running)',
      value: median(t.lsp),
      unit: 'ms',
      baseline: median(t.bare),
      ratio: median(t.lsp) / median(t.bare),
      note: `${range(t.lsp)}; baseline: bare vscode-languageserver ${range(t.bare)}; ACP bridge spawn → initialize ${median(t.acp).toFixed(1)} ms (${range(t.acp)}); ${ROUNDS} rounds`,
    });

    // 2. Accept round trips, each on a fresh hunk made by the agent's edit_file (outside the timing).
    const c = await connectSocket(daemon.socketPath);
    await c.initialize({ name: 'bench', kind: 'test' });
    const { sessionId } = await c.request({ method: 'session/create' }, { workspace: ws });
    // One agent turn per round (the scripted model) edits line i*10 of each file; its events reach the server.
    const turn = async (i) => {
      const edit = (file) => ({
        name: 'edit_file',
        arguments: { path: file, old_string: `line ${i * 10}\n`, new_string: `LINE ${i * 10}\n` },
      });
      model.push({ toolCalls: ['lsp.txt', 'buf.txt', 'sock.txt', 'cli.txt'].map(edit) }, { text: ['ok'] });
      const r = await c.request({ method: 'session/prompt' }, { sessionId, text: `round ${i}` });
      if (r.stopReason !== 'end_turn') throw new Error(`turn ${i}: ${r.stopReason}`);
      const diff = await c.request({ method: 'shadow/diff' }, { sessionId, paths: ['sock.txt', 'cli.txt'] });
      const id = (file) =>
        diff.files.find((f) => f.path === file).hunks.find((h) => h.lines.includes(`+LINE ${i * 10}`)).id;
      return { sock: id('sock.txt'), cli: id('cli.txt') };
    };
    const editor = await lspInitialize([bin, 'lsp'], env, rootUri);
    const diags = new Map();
    const waiters = [];
    editor.conn.onNotification('textDocument/publishDiagnostics', (p) => {
      diags.set(p.uri, p.diagnostics);
      for (const w of [...waiters]) if (w.test()) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
    });
    editor.conn.onRequest('workspace/applyEdit', () => ({ applied: true }));
    const when = (test) => (test() ? Promise.resolve() : new Promise((resolve) => waiters.push({ test, resolve })));
    await editor.conn.sendNotification('initialized', {});
    const lspUri = `${rootUri}/lsp.txt`;
    const bufUri = `${rootUri}/buf.txt`;
    await editor.conn.sendNotification('textDocument/didOpen', {
      textDocument: { uri: bufUri, languageId: 'plaintext', version: 1, text: lines },
    });
    const acceptVia = async (uri, i) => {
      const line = i * 10;
      await when(() => (diags.get(uri) ?? []).some((d) => d.range.start.line === line));
      const t0 = performance.now();
      const actions = await editor.conn.sendRequest('textDocument/codeAction', {
        textDocument: { uri },
        range: { start: { line, character: 0 }, end: { line, character: 0 } },
        context: { diagnostics: [] },
      });
      const accept = actions.find((a) => a.title === 'Accept agent change');
      const r = await editor.conn.sendRequest('workspace/executeCommand', accept.command);
      if (r.via === 'daemon') await when(() => !(diags.get(uri) ?? []).some((d) => d.range.start.line === line));
      return performance.now() - t0;
    };
    const a = { lsp: [], buf: [], sock: [], cli: [] };
    for (let i = 1; i <= ROUNDS; i++) {
      const ids = await turn(i);
      // A pause between the variants lets the server's re-read of the review (it holds the session lock)
      // finish, so the next variant does not queue behind it.
      await settle();
      a.lsp.push(await acceptVia(lspUri, i));
      await settle();
      a.buf.push(await acceptVia(bufUri, i));
      await settle();
      const t0 = performance.now();
      await c.request({ method: 'shadow/accept' }, { sessionId, hunks: [ids.sock] });
      a.sock.push(performance.now() - t0);
      await settle();
      a.cli.push(await cli(['accept', ids.cli, '--session', sessionId], env, ws));
    }
    rows.push({
      metric: 'lsp: accept code action → diagnostic gone (file not open, the daemon writes it)',
      value: median(a.lsp),
      unit: 'ms',
      baseline: median(a.sock),
      ratio: median(a.lsp) / median(a.sock),
      note: `${range(a.lsp)}; codeAction + executeCommand + publishDiagnostics; baseline: socket shadow/accept ${range(a.sock)}; \`shadowbox accept FILE#HUNK\` ${median(a.cli).toFixed(1)} ms (${range(a.cli)}); ${ROUNDS} rounds`,
    });
    rows.push({
      metric: 'lsp: accept code action into an open buffer → workspace/applyEdit answered',
      value: median(a.buf),
      unit: 'ms',
      baseline: median(a.sock),
      ratio: median(a.buf) / median(a.sock),
      note: `${range(a.buf)}; the daemon records it on save; baseline: socket shadow/accept; ${ROUNDS} rounds`,
    });
    await stop(editor);
    c.dispose();
  } finally {
    await daemon.stop();
    await model.close();
    rmSync(ws, { recursive: true, force: true });
  }
  return { name: 'lsp', rows };
}
