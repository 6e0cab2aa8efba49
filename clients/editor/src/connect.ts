import net from 'node:net';
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
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

/** Connects to the running daemon, starting it (detached, logging to the state dir) when none answers. */
export async function ensureDaemon(o: EnsureDaemonOptions): Promise<ShadowboxClient> {
  try {
    return await connectSocket(o.socketPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw e;
  }
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  const out = openSync(path.join(o.stateDir, 'daemon.out'), 'a', 0o600);
  const [cmd, ...args] = o.command;
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env: o.env ?? process.env });
  child.unref();
  const deadline = Date.now() + (o.timeoutMs ?? 15_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    await sleep(25);
    try {
      return await connectSocket(o.socketPath);
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(
    `the shadowbox daemon did not start within ${o.timeoutMs ?? 15_000} ms (see ${path.join(o.stateDir, 'daemon.out')}): ${(lastError as Error)?.message}`,
  );
}
