// The real `shadowbox lsp` process on stdio, driven by vscode-languageserver-protocol's client side: it starts
// the daemon when none runs, finds a session created after it started, survives the daemon going away and
// coming back, keeps stdout to LSP messages only, and ends on `exit` (0 after shutdown) or when stdin closes.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
  type ProtocolConnection,
} from 'vscode-languageserver-protocol/node';
import type { Diagnostic, PublishDiagnosticsParams } from 'vscode-languageserver-protocol';
import { connectSocket, type ShadowboxClient } from '@shadowbox/client';
import { SessionCreate, SessionPrompt, ToolsCall } from '@shadowbox/protocol';
import { makeTempDir, repoRoot, runCli, shadowboxBin, startTestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';

interface Lsp {
  child: ChildProcessWithoutNullStreams;
  conn: ProtocolConnection;
  diagnostics: Map<string, Diagnostic[]>;
  messages: Array<{ type: number; message: string }>;
  stdout: () => Buffer;
  stderr: () => string;
  exited: Promise<number | null>;
}

function spawnLsp(env: NodeJS.ProcessEnv): Lsp {
  const child = spawn(process.execPath, [shadowboxBin, 'lsp', '--stdio'], { env, cwd: repoRoot, stdio: 'pipe' });
  let out = Buffer.alloc(0);
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out = Buffer.concat([out, d])));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const diagnostics = new Map<string, Diagnostic[]>();
  const messages: Lsp['messages'] = [];
  conn.onNotification(
    'textDocument/publishDiagnostics',
    (p: PublishDiagnosticsParams) => void diagnostics.set(p.uri, p.diagnostics),
  );
  conn.onNotification('window/showMessage', (p: { type: number; message: string }) => void messages.push(p));
  conn.listen();
  return { child, conn, diagnostics, messages, stdout: () => out, stderr: () => err, exited };
}

type Truthy<T> = Exclude<T, false | null | undefined | 0 | ''>;

async function until<T>(f: () => T | Promise<T>, what: string, ms = 30_000): Promise<Truthy<T>> {
  const t = Date.now();
  for (;;) {
    const v = await f();
    if (v) return v as Truthy<T>;
    if (Date.now() - t > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const initialize = (l: Lsp, ws: string) =>
  l.conn
    .sendRequest('initialize', {
      processId: process.pid,
      rootUri: pathToFileURL(ws).href,
      capabilities: { workspace: { applyEdit: true } },
    })
    .then(() => l.conn.sendNotification('initialized', {}));

describe('shadowbox lsp (the process)', () => {
  let stateDir: string;
  let ws: string;
  let env: NodeJS.ProcessEnv;
  let model: ModelServer;
  const lsps: Lsp[] = [];

  beforeAll(async () => {
    model = await startModelServer();
    // Short paths: Unix socket paths are limited to 107 bytes.
    stateDir = await makeTempDir('lspst');
    ws = await makeTempDir('lspws');
    await writeFile(path.join(ws, 'a.txt'), 'one\ntwo\nthree\n');
    await writeFile(path.join(ws, 'b.txt'), 'four\nfive\n');
    env = {
      ...process.env,
      SHADOWBOX_STATE_DIR: stateDir,
      SHADOWBOX_SOCKET: path.join(stateDir, 'daemon.sock'),
      ...openaiEnv(model),
      HOME: os.tmpdir(),
    };
    delete env.NODE_OPTIONS;
  });
  afterAll(async () => {
    for (const l of lsps) if (l.child.exitCode === null) l.child.kill('SIGKILL');
    await runCli(['stop'], env).catch(() => undefined);
    await model?.close();
    for (const dir of [stateDir, ws]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('starts the daemon, finds a session made after it started, follows the daemon through a restart, exits 0 after shutdown', async () => {
    const l = spawnLsp(env);
    lsps.push(l);
    await initialize(l, ws);
    // It started the daemon (nothing was running on this state dir).
    const client: ShadowboxClient = await until(
      () => connectSocket(env.SHADOWBOX_SOCKET!).catch(() => null),
      'the auto-started daemon',
    );
    await client.initialize({ name: 'test', kind: 'test' });
    const s = await client.request(SessionCreate, { workspace: ws });
    // The edit comes from a model turn: its tool_call_update (changed) refreshes a server that found the session
    // before the edit.
    model.push(
      { toolCalls: [{ name: 'edit_file', arguments: { path: 'a.txt', old_string: 'two', new_string: 'TWO' } }] },
      { text: ['Done.'] },
    );
    expect((await client.request(SessionPrompt, { sessionId: s.sessionId, text: 'shout' })).stopReason).toBe(
      'end_turn',
    );
    const uri = pathToFileURL(path.join(ws, 'a.txt')).href;
    // The session did not exist at initialize: the server finds it by looking again (every 2 s).
    const diags = await until(() => l.diagnostics.get(uri)?.length === 1 && l.diagnostics.get(uri), 'a.txt shown');
    expect(diags[0]).toMatchObject({ range: { start: { line: 1 } }, source: 'shadowbox' });
    // A direct tools/call by another client, with the server already following the session: its
    // tool_call_update (origin client, changed) refreshes the server too.
    const direct = await client.request(ToolsCall, {
      sessionId: s.sessionId,
      tool: 'edit_file',
      input: { path: 'b.txt', old_string: 'five', new_string: 'FIVE' },
    });
    expect(direct).toMatchObject({ isError: false, changed: ['b.txt'] });
    const bUri = pathToFileURL(path.join(ws, 'b.txt')).href;
    const bDiags = await until(() => l.diagnostics.get(bUri)?.length === 1 && l.diagnostics.get(bUri), 'b.txt shown');
    expect(bDiags[0]).toMatchObject({ range: { start: { line: 1 } }, source: 'shadowbox' });
    client.dispose();

    // The daemon stops: the diagnostics go, with a warning; it comes back (same state dir): they return.
    expect((await runCli(['stop'], env)).code).toBe(0);
    await until(() => l.diagnostics.get(uri)?.length === 0, 'cleared when the daemon stopped');
    expect(l.messages.at(-1)?.message).toContain('daemon connection closed');
    const again = await startTestDaemon({ stateDir, env, web: false });
    await until(() => l.diagnostics.get(uri)?.length === 1, 'shown again after the restart');

    const warnings = l.messages.length;
    await l.conn.sendRequest('shutdown');
    await l.conn.sendNotification('exit');
    expect(await l.exited).toBe(0);
    // Letting the daemon go at shutdown is not "the daemon connection closed".
    expect(l.messages.length).toBe(warnings);
    // stdout held LSP messages only: every byte is a Content-Length framed message.
    let rest = l.stdout();
    while (rest.length > 0) {
      const m = /^Content-Length: (\d+)\r\n\r\n/.exec(rest.toString('latin1'));
      expect(m, rest.toString('utf8').slice(0, 80)).not.toBeNull();
      const body = rest.subarray(m![0].length, m![0].length + Number(m![1]));
      expect(() => JSON.parse(body.toString('utf8')) as unknown).not.toThrow();
      rest = rest.subarray(m![0].length + Number(m![1]));
    }
    expect(l.stderr()).toContain('shadowbox lsp: following session');
    await again.stop();
    // Two daemon starts, a 2 s session poll and a stop: seconds alone, far more in a loaded full run (a bound, not a measure).
  }, 120_000);

  it('exits 1 when the editor closes stdin without shutdown, also while the daemon it starts is coming up', async () => {
    const l = spawnLsp(env);
    lsps.push(l);
    await initialize(l, ws);
    l.child.stdin.end();
    expect(await l.exited).toBe(1);
  });
});
