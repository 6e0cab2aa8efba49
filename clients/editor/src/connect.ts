import net from 'node:net';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { ShadowboxClient } from './client.js';
import { startDetached } from './start-detached.js';

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

/** Connects to the daemon's /rpc WebSocket with the token as a Bearer header (non-browser client). */
export async function connectWebSocket(
  baseUrl: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<ShadowboxClient> {
  return (await import('./connect-ws.js')).openWebSocketClient(baseUrl, token, headers);
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
 * Connects to the running daemon, starting it when none answers. The daemon is started through
 * startDetached (its own session, re-parented away from this process), so a client that kills its
 * process group or every descendant on exit does not take the daemon with it.
 */
export async function ensureDaemon(o: EnsureDaemonOptions): Promise<ShadowboxClient> {
  try {
    return await connectSocket(o.socketPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw e;
  }
  await mkdir(o.stateDir, { recursive: true, mode: 0o700 });
  const logFile = path.join(o.stateDir, 'daemon.out');
  await startDetached(o.command, { env: o.env ?? process.env, logFile });
  const deadline = Date.now() + (o.timeoutMs ?? 15_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    await sleep(10);
    try {
      return await connectSocket(o.socketPath);
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(
    `the shadowbox daemon did not start within ${o.timeoutMs ?? 15_000} ms (see ${logFile}): ${(lastError as Error)?.message}`,
  );
}
