import type { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createConnection, type WatchDog } from 'vscode-languageserver';
import {
  createProtocolConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver-protocol/node';
import { connectSocket, ensureDaemon, quietReader } from '../connect.js';
import { daemonPaths } from '../paths.js';
import { createLspServer } from './server.js';

/** Streams and environment of the `shadowbox lsp` process. */
export interface LspIo {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** How often the server looks for a newer session and for a daemon that came back. */
const POLL_MS = 2_000;

/**
 * `shadowbox lsp`: a language server on stdin/stdout (LSP framing; stdout carries only LSP messages, logs go
 * to stderr) showing the pending agent changes of the editor's workspace. It connects to the daemon's socket,
 * starting the daemon when none answers, like every other client.
 */
export async function lspCommand(io: LspIo, argv: string[], daemonCommand: string[], version: string): Promise<number> {
  // `--stdio` and `--clientProcessId` are what generic LSP client extensions pass; both are accepted.
  const { values } = parseArgs({
    args: argv,
    options: { 'state-dir': { type: 'string' }, stdio: { type: 'boolean' }, clientProcessId: { type: 'string' } },
  });
  const p = daemonPaths(io.env, values['state-dir']);
  const env = { ...io.env, SHADOWBOX_STATE_DIR: p.stateDir, SHADOWBOX_SOCKET: p.socketPath };
  const log = (m: string) => void io.stderr.write(`shadowbox lsp: ${m}\n`);
  const clientInfo = { name: 'shadowbox-lsp', kind: 'editor' as const, version };

  let finish: (code: number) => void = () => {};
  const exited = new Promise<number>((r) => (finish = r));
  let parentWatch: NodeJS.Timeout | undefined;
  const watchParent = (pid: number) => {
    if (parentWatch || !Number.isInteger(pid) || pid <= 0) return;
    parentWatch = setInterval(() => {
      try {
        process.kill(pid, 0);
      } catch {
        log(`the editor (pid ${pid}) is gone`);
        finish(watchDog.shutdownReceived ? 0 : 1);
      }
    }, 3_000);
    parentWatch.unref();
  };
  // The library's own node entry calls process.exit on `exit`; this one ends the command instead.
  const watchDog: WatchDog = {
    shutdownReceived: false,
    initialize: (params) => {
      if (typeof params.processId === 'number') watchParent(params.processId);
    },
    exit: (code) => finish(code),
  };
  if (values.clientProcessId) watchParent(Number(values.clientProcessId));

  const reader = quietReader(new StreamMessageReader(io.stdin));
  const writer = new StreamMessageWriter(io.stdout);
  reader.onClose(() => finish(watchDog.shutdownReceived ? 0 : 1));
  const connection = createConnection((logger) => createProtocolConnection(reader, writer, logger), watchDog);
  const server = createLspServer({
    connection,
    log,
    version,
    pollMs: POLL_MS,
    async connectDaemon() {
      const c = await ensureDaemon({ socketPath: p.socketPath, stateDir: p.stateDir, command: daemonCommand, env });
      await c.initialize(clientInfo, { permissions: false });
      return c;
    },
    async reconnectDaemon() {
      const c = await connectSocket(p.socketPath).catch(() => null);
      if (c) await c.initialize(clientInfo, { permissions: false });
      return c;
    },
  });
  connection.listen();
  const code = await exited;
  clearInterval(parentWatch);
  server.dispose();
  connection.dispose();
  // stdin would keep the process alive after `exit` when the editor holds the pipe open.
  (io.stdin as Partial<Readable>).destroy?.();
  return code;
}
