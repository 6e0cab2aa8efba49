import net from 'node:net';
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import {
  AbstractMessageReader,
  AbstractMessageWriter,
  type DataCallback,
  type Disposable,
  type Message,
} from 'vscode-jsonrpc';
import { Defaults } from '@shadowbox/protocol';
import { ShadowboxClient } from './client.js';

/** Connects to a daemon's Unix socket (LSP framing). Rejects with the socket error (ENOENT / ECONNREFUSED) when none listens. */
export function connectSocket(socketPath: string): Promise<ShadowboxClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => socket.destroy());
      const connection = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
      connection.onClose(() => socket.destroy());
      connection.listen();
      resolve(new ShadowboxClient(connection));
    });
  });
}

/** A WebSocket message's text, whichever of ws's binary shapes it arrived in. */
function rawDataText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

class WsReader extends AbstractMessageReader {
  constructor(private readonly ws: WebSocket) {
    super();
  }
  listen(callback: DataCallback): Disposable {
    const onMessage = (data: WebSocket.RawData) => {
      try {
        callback(JSON.parse(rawDataText(data)) as Message);
      } catch (e) {
        this.fireError(e);
      }
    };
    const onClose = () => this.fireClose();
    this.ws.on('message', onMessage);
    this.ws.on('close', onClose);
    return { dispose: () => (this.ws.off('message', onMessage), this.ws.off('close', onClose)) };
  }
}

class WsWriter extends AbstractMessageWriter {
  constructor(private readonly ws: WebSocket) {
    super();
  }
  async write(msg: Message): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }
  end(): void {}
}

/** Connects to the daemon's /rpc WebSocket with the token as a Bearer header (non-browser client). */
export function connectWebSocket(
  baseUrl: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<ShadowboxClient> {
  const url = new URL(Defaults.wsPath, baseUrl.replace(/^http/, 'ws'));
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [Defaults.wsSubprotocol], {
      headers: { Authorization: `Bearer ${token}`, ...headers },
    });
    ws.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`), { status: res.statusCode })),
    );
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => ws.terminate());
      const connection = createMessageConnection(new WsReader(ws), new WsWriter(ws));
      connection.onClose(() => ws.terminate());
      connection.listen();
      resolve(new ShadowboxClient(connection));
    });
  });
}

export interface EnsureDaemonOptions {
  socketPath: string;
  stateDir: string;
  /** How to start the daemon, e.g. [process.execPath, '/path/to/shadowbox.js', 'daemon']. */
  command: string[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/**
 * Exit code of `shadowbox daemon` when another daemon holds the state dir's lock: the auto-starting
 * client keeps waiting for that one's socket instead of failing (two clients raced to start it).
 */
export const DAEMON_EXIT_ALREADY_RUNNING = 75;

/** The daemon could not start: `message` is its own one-line reason (file, field, cause); `output` its log file. */
export class DaemonStartError extends Error {
  constructor(
    message: string,
    readonly output: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = 'DaemonStartError';
  }
}

/** The last non-empty line the daemon wrote to daemon.out after `from` (its one-line failure). */
async function lastLine(file: string, from: number): Promise<string | null> {
  const h = await open(file, 'r').catch(() => null);
  if (!h) return null;
  try {
    const { size } = await h.stat();
    const start = Math.max(from, size - 64 * 1024);
    const buf = Buffer.alloc(Math.max(0, size - start));
    await h.read(buf, 0, buf.length, start);
    const lines = buf
      .toString('utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    return lines.at(-1) ?? null;
  } finally {
    await h.close();
  }
}

/**
 * Connects to the running daemon, starting it (detached, logging to the state dir) when none answers. A
 * daemon that exits while starting (a broken config.json, say) fails the call at once with the line it
 * printed, rather than after the start timeout.
 */
export async function ensureDaemon(o: EnsureDaemonOptions): Promise<ShadowboxClient> {
  try {
    return await connectSocket(o.socketPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw e;
  }
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  const outFile = path.join(o.stateDir, 'daemon.out');
  const from = (await stat(outFile).catch(() => null))?.size ?? 0;
  const out = openSync(outFile, 'a', 0o600);
  const [cmd, ...args] = o.command;
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env: o.env ?? process.env });
  closeSync(out);
  const run: { exit: { code: number | null } | null } = { exit: null };
  const onExit = (code: number | null) => (run.exit = { code });
  child.once('exit', onExit);
  child.once('error', () => (run.exit = { code: null }));
  child.unref();
  const timeoutMs = o.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  try {
    while (Date.now() < deadline) {
      await sleep(25);
      try {
        return await connectSocket(o.socketPath);
      } catch (e) {
        lastError = e;
      }
      const ended = run.exit;
      // Another client's daemon won the race for the lock: its socket is what we wait for.
      if (ended && ended.code !== DAEMON_EXIT_ALREADY_RUNNING) {
        const line = await lastLine(outFile, from);
        throw new DaemonStartError(
          `the shadowbox daemon could not start: ${line?.replace(/^shadowbox daemon: /, '') ?? `it exited with code ${ended.code}`} (log: ${outFile})`,
          outFile,
          ended.code,
        );
      }
    }
  } finally {
    child.off('exit', onExit);
  }
  throw new DaemonStartError(
    `the shadowbox daemon did not start within ${timeoutMs} ms (see ${outFile}): ${(lastError as Error)?.message}`,
    outFile,
    null,
  );
}
