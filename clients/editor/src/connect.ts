import net from 'node:net';
import { mkdirSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { ShadowboxClient } from './client.js';
import { daemonStartEnv } from './daemon-env.js';
import { startDetached } from './start-detached.js';

/**
 * A reader without vscode-jsonrpc's partial-message timer. When a connection ends between a message's header
 * and its body (a daemon writes them in two writes; a client disposed in between), that timer re-arms itself
 * every 10 s forever — neither dispose() nor the socket's close clears it — so a CLI command or a script using
 * this client never exits. The timer only reports "still waiting"; nothing is lost without it.
 */
export function quietReader<R extends { partialMessageTimeout: number }>(reader: R): R {
  reader.partialMessageTimeout = 0;
  return reader;
}

/** Connects to a daemon's Unix socket (LSP framing). Rejects with the socket error (ENOENT / ECONNREFUSED) when none listens. */
export function connectSocket(socketPath: string): Promise<ShadowboxClient> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => socket.destroy());
      const connection = createMessageConnection(
        quietReader(new SocketMessageReader(socket)),
        new SocketMessageWriter(socket),
      );
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

/** The words of the daemon's "another daemon holds the lock" refusal (state/lock.ts), as printed to daemon.out. */
const ALREADY_RUNNING = 'a shadowbox daemon is already running';

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

/**
 * The one-line failure a daemon printed to daemon.out after `from` (`shadowbox daemon: REASON`), or null.
 * "Already running" is no failure: another client's daemon won the race for the lock, and its socket is
 * what the caller waits for.
 */
async function startFailure(file: string, from: number): Promise<string | null> {
  const h = await open(file, 'r').catch(() => null);
  if (!h) return null;
  try {
    const { size } = await h.stat();
    const start = Math.max(from, size - 64 * 1024);
    const buf = Buffer.alloc(Math.max(0, size - start));
    await h.read(buf, 0, buf.length, start);
    for (const line of buf.toString('utf8').split('\n')) {
      const m = /^shadowbox daemon: (.*)$/.exec(line.trim());
      if (m && !m[1].includes(ALREADY_RUNNING)) return m[1];
    }
    return null;
  } finally {
    await h.close();
  }
}

/**
 * Connects to the running daemon, starting it when none answers. The daemon is started through
 * startDetached (its own session, re-parented away from this process), so a client that kills its
 * process group or every descendant on exit does not take the daemon with it. A daemon that fails while
 * starting (a broken config.json, say) fails the call at once with the line it printed, rather than after
 * the start timeout: the re-parented daemon's exit cannot be waited for, so its output file is read.
 * The daemon gets glibc malloc settings in its environment (daemon-env.ts) unless `env` has GLIBC_TUNABLES.
 */
export async function ensureDaemon(o: EnsureDaemonOptions): Promise<ShadowboxClient> {
  try {
    return await connectSocket(o.socketPath);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ECONNREFUSED') throw e;
  }
  // Synchronous: Node 20's async recursive mkdir reports a disk out of inodes as ENOENT, its mkdirSync says ENOSPC.
  mkdirSync(o.stateDir, { recursive: true, mode: 0o700 });
  const outFile = path.join(o.stateDir, 'daemon.out');
  const from = (await stat(outFile).catch(() => null))?.size ?? 0;
  await startDetached(o.command, { env: daemonStartEnv(o.env ?? process.env), logFile: outFile });
  const timeoutMs = o.timeoutMs ?? 15_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    await sleep(25);
    try {
      return await connectSocket(o.socketPath);
    } catch (e) {
      lastError = e;
    }
    const failure = await startFailure(outFile, from);
    if (failure)
      throw new DaemonStartError(`the shadowbox daemon could not start: ${failure} (log: ${outFile})`, outFile, null);
  }
  throw new DaemonStartError(
    `the shadowbox daemon did not start within ${timeoutMs} ms (see ${outFile}): ${(lastError as Error)?.message}`,
    outFile,
    null,
  );
}
