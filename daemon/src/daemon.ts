import { readFile } from 'node:fs/promises';
import type net from 'node:net';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { acpSocketPath, Defaults, ErrorCodes, type DaemonStatus, type ResultOf } from '@shadowbox/protocol';
import { ShadowboxError } from './errors.js';
import { ClientRegistry, HandlerTable, registerSessionHandlers, serveChannel } from './server/index.js';
import type { SessionManager } from './sessions/index.js';
import {
  acquireLock,
  createLogger,
  ensurePrivateDir,
  envInt,
  findDiskFull,
  freeSpace,
  freeSpaceText,
  loadOrCreateToken,
  resolveStatePaths,
  type Logger,
  type StatePaths,
  writeFileAtomic,
} from './state/index.js';
import {
  createStdioChannel,
  listenHttp,
  listenSocket,
  listenUnixSocket,
  type Channel,
  type HttpServer,
  type SocketServer,
} from './transports/index.js';
import { VERSION } from './version.js';

export interface DaemonOptions {
  env: NodeJS.ProcessEnv;
  stateDir?: string;
  socketPath?: string;
  /** Listen on the Unix socket (default true unless stdio). */
  socket?: boolean;
  /** Serve one client on these streams (LSP framing); the daemon exits when it sends exit. */
  stdio?: { input: Readable; output: Writable };
  /** Loopback HTTP/WebSocket port; 0 picks one; undefined = no HTTP server. */
  wsPort?: number;
  maxMessageBytes?: number;
  logToStderr?: boolean;
  /** Wires providers, tools, shadow, audit, bundles into the daemon (see wiring.ts). */
  capabilities: (ctx: CapabilityContext) => Promise<Capabilities>;
  /**
   * Hosts the ACP bridge for one editor on a connection to the daemon's ACP socket (acpSocketPath beside the Unix
   * socket): the native `shadowbox acp` relays the editor's stdio there. The bridge is a client of the daemon's
   * own socket (`daemonSocket`), as the `shadowbox acp` process is. Without it there is no ACP socket.
   */
  acp?: (
    socket: net.Socket,
    ctx: { daemonSocket: string; log: (msg: string) => void; maxLineBytes: number },
  ) => Promise<unknown>;
}

/** What capabilities get to wire themselves: paths, logger, the handler table and HTTP routes. */
export interface CapabilityContext {
  paths: StatePaths;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  handlers: HandlerTable;
  clients: ClientRegistry;
  http: () => HttpServer | null;
  /** The WebSocket bridge token (written before capabilities are wired). */
  token: () => string;
}

/** What wiring built: the session manager (over every capability), what status reports, lifecycle hooks. */
export interface Capabilities {
  /** Not yet initialized: the daemon calls init() (crash recovery of interrupted turns) before it serves. */
  sessions: SessionManager;
  providers: string[];
  /** The model settings read from the environment at start (daemon/status; secrets as fingerprints). */
  environment?: () => ResultOf<typeof DaemonStatus>['environment'];
  wasiRunners: string[];
  /** The sandboxes and whether each can run here (daemon/status, `shadowbox status`). */
  sandboxes: () => Promise<{ name: 'wasi' | 'shell'; available: boolean; detail: string; missing: string[] }[]>;
  /** Called once the HTTP server listens (web client, /bundles/ routes). */
  onHttp?: (http: HttpServer) => void;
  /**
   * Called once the daemon serves (after its ready line): background work that must not delay the first
   * answer (the warm interpreter). A request that needs it waits for it, as on first use.
   */
  onReady?: () => void;
  close?: () => Promise<void>;
}

/** A running daemon. */
export interface Daemon {
  readonly paths: StatePaths;
  readonly socketPath: string | null;
  readonly webUrl: string | null;
  readonly token: string;
  readonly sessions: SessionManager;
  readonly logger: Logger;
  stop(): Promise<void>;
  /** Resolves when the daemon has fully stopped. */
  readonly stopped: Promise<void>;
}

/** How long a stop waits for running work to end before it stops anyway. */
const STOP_GRACE_MS = 5_000;
/** How long a stop waits for the ACP bridges it hosts to end their editors' connections themselves. */
const ACP_STOP_GRACE_MS = 1_000;

/** Starts the daemon: lock, state dir, transports, sessions; SIGTERM-safe stop. */
export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const paths = resolveStatePaths(o.env, {
    ...(o.stateDir ? { stateDir: o.stateDir } : {}),
    ...(o.socketPath ? { socketPath: o.socketPath } : {}),
  });
  try {
    return await start(o, paths);
  } catch (e) {
    // A full state dir is said in one sentence (the CLI prints it without a stack), whatever write hit it.
    if (!findDiskFull(e)) throw e;
    const free = await freeSpace(paths.stateDir);
    throw new ShadowboxError(
      ErrorCodes.DiskFull,
      'disk_full',
      `cannot start: the disk holding the state dir ${paths.stateDir} is full (${freeSpaceText(free)}); free some space and start the daemon again`,
      { path: paths.stateDir, freeBytes: free?.bytes ?? null, freeFiles: free?.files ?? null },
      { cause: e },
    );
  }
}

async function start(o: DaemonOptions, paths: StatePaths): Promise<Daemon> {
  // Created 0700 when missing; an existing folder is used as it is (never chmod'ed), or refused when others can write it.
  const stateDir = await ensurePrivateDir(paths.stateDir, 'state');
  const startedAt = new Date();
  const lock = await acquireLock(paths.lockFile, {
    pid: process.pid,
    socketPath: null,
    webUrl: null,
    startedAt: startedAt.toISOString(),
    version: VERSION,
  });
  const logRetryMs = envInt(o.env, 'SHADOWBOX_LOG_RETRY_MS');
  const logger = createLogger({
    file: paths.logFile,
    stderr: o.logToStderr ?? false,
    debug: o.env.SHADOWBOX_DEBUG === '1',
    ...(logRetryMs !== undefined ? { retryMs: logRetryMs } : {}),
  });
  if (!stateDir.created && (stateDir.mode & 0o077) !== 0)
    logger.warn(
      `the state folder ${stateDir.dir} is readable by others (mode ${stateDir.mode.toString(8)}); its files are 0600, but \`chmod 700 ${stateDir.dir}\` hides their names too (shadowbox does not change a folder it did not create)`,
    );
  const maxBytes = o.maxMessageBytes ?? (Number(o.env.SHADOWBOX_MAX_MESSAGE_BYTES) || Defaults.maxMessageBytes);
  const clients = new ClientRegistry();
  const handlers = new HandlerTable();
  let socket: SocketServer | null = null;
  let acp: SocketServer | null = null;
  let http: HttpServer | null = null;
  let stopping: Promise<void> | null = null;
  let caps: Capabilities | null = null;
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));

  try {
    const token = await loadOrCreateToken(paths.tokenFile);
    const wired = await o.capabilities({
      paths,
      env: o.env,
      logger,
      handlers,
      clients,
      http: () => http,
      token: () => token,
    });
    caps = wired;
    const { sessions } = wired;
    await sessions.init();
    const transports: Array<'stdio' | 'socket' | 'websocket'> = [];
    if (o.stdio) transports.push('stdio');
    if (o.socket ?? !o.stdio) transports.push('socket');
    if (o.wsPort !== undefined) transports.push('websocket');
    const onChannel = (channel: Channel) =>
      serveChannel(channel, {
        handlers,
        clients,
        logger,
        version: VERSION,
        capabilities: {
          transports,
          providers: wired.providers,
          maxMessageBytes: maxBytes,
          wasiRunners: wired.wasiRunners,
        },
        onExit: () => {
          if (channel.transport === 'stdio') void stop();
        },
      });

    // A call that does not end when told to (cancelled turn, closing capability) cannot hold the stop: each
    // step gets STOP_GRACE_MS, then the daemon stops anyway and says so.
    const bounded = async (what: string, work: Promise<unknown>) => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          logger.warn(`${what} did not finish within ${STOP_GRACE_MS} ms; stopping anyway`);
          resolve();
        }, STOP_GRACE_MS);
        timer.unref();
      });
      await Promise.race([work, late]);
      clearTimeout(timer);
    };
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        logger.info('daemon stopping');
        await bounded(
          'closing sessions',
          sessions.close().catch((e: unknown) => logger.error(`sessions close: ${(e as Error).message}`)),
        );
        await socket?.close().catch(() => undefined);
        await http?.close().catch(() => undefined);
        for (const c of clients.list()) c.connection.dispose();
        // After the clients: a bridge the daemon hosts writes what its client link brought (a prompt's answer to a
        // turn the stop ended), sees the link close and ends its editor's connection itself; ACP_STOP_GRACE_MS.
        await acp?.close(ACP_STOP_GRACE_MS).catch(() => undefined);
        await bounded(
          'closing capabilities',
          (wired.close?.() ?? Promise.resolve()).catch((e: unknown) =>
            logger.error(`capabilities close: ${(e as Error).message}`),
          ),
        );
        await lock.release();
        logger.info('daemon stopped');
        await logger.close();
        resolveStopped();
      })();
      return stopping;
    };

    registerSessionHandlers(handlers, sessions, clients, {
      version: VERSION,
      startedAt,
      stateDir: paths.stateDir,
      socketPath: () => socket?.path ?? null,
      webUrl: () => http?.url ?? null,
      environment: () => wired.environment?.() ?? [],
      stop: () => void stop(),
      sandboxes: () => wired.sandboxes(),
    });

    // The web server first: a client that reaches the socket (an auto-starting `shadowbox web`) must find webUrl set.
    if (o.wsPort !== undefined) {
      http = await listenWeb(o.wsPort, path.join(paths.stateDir, 'web.port'), (port) =>
        listenHttp({ port, token, maxBytes, onChannel, log: (m) => logger.info(m) }),
      );
      wired.onHttp?.(http);
    }
    if (transports.includes('socket')) {
      await ensurePrivateDir(path.dirname(paths.socketPath), 'socket', path.basename(paths.socketPath));
      socket = await listenSocket(paths.socketPath, maxBytes, onChannel);
      if (o.acp) acp = await listenAcp(socket.path, maxBytes, o.acp, logger);
    }
    if (o.stdio) {
      const ch = createStdioChannel(o.stdio.input, o.stdio.output, maxBytes);
      serveChannel(ch, {
        handlers,
        clients,
        logger,
        version: VERSION,
        capabilities: {
          transports,
          providers: wired.providers,
          maxMessageBytes: maxBytes,
          wasiRunners: wired.wasiRunners,
        },
        onExit: () => void stop(),
      }).onClose(() => void stop());
    }
    await lock.update({ socketPath: socket?.path ?? null, webUrl: http?.url ?? null });
    logger.info(
      `daemon ${VERSION} ready (pid ${process.pid}${socket ? `, socket ${socket.path}` : ''}${http ? `, web ${http.url}` : ''}${o.stdio ? ', stdio' : ''})`,
    );
    // After the caller has said "ready" (the CLI's ready line is written when this promise settles): the
    // background work's synchronous part (a worker spawn, the shell probe's PATH search) delays nothing. Skipped
    // when a stop came first.
    setImmediate(() => {
      if (!stopping) wired.onReady?.();
    });
    return {
      paths,
      socketPath: socket?.path ?? null,
      webUrl: http?.url ?? null,
      token,
      sessions,
      logger,
      stop,
      stopped,
    };
  } catch (e) {
    await acp?.close().catch(() => undefined);
    await socket?.close().catch(() => undefined);
    await http?.close().catch(() => undefined);
    // Wired capabilities may already hold processes and workers (MCP servers, the warm interpreter).
    await caps?.close?.().catch(() => undefined);
    await lock.release();
    await logger.close();
    throw e;
  }
}

/**
 * The ACP socket beside the Unix socket, each connection one editor served by `host` (the bridge, loaded on the
 * first one). Editors work without it (`shadowbox acp` then runs the bridge as a process of its own, as it does
 * with no daemon), so a path it cannot take (a file that is not a stale socket of ours) is a warning, not a failed
 * start. A bridge's failure ends its editor's connection, never the daemon; a line longer than the message cap
 * (`maxLineBytes`) drops the link.
 */
async function listenAcp(
  daemonSocket: string,
  maxLineBytes: number,
  host: NonNullable<DaemonOptions['acp']>,
  logger: Logger,
): Promise<SocketServer | null> {
  const acpPath = acpSocketPath(daemonSocket);
  let editors = 0;
  const serve = (conn: net.Socket) => {
    const n = ++editors;
    const log = (m: string) => logger.info(`acp editor ${n}: ${m}`);
    logger.debug(`acp editor ${n}: connected`);
    host(conn, { daemonSocket, log, maxLineBytes }).then(
      (end) => logger.debug(`acp editor ${n}: ended (${String(end)})`),
      (e: unknown) => {
        logger.error(`acp editor ${n}: the bridge failed: ${(e as Error).message}`);
        conn.destroy();
      },
    );
  };
  return listenUnixSocket(acpPath, serve, { allowHalfOpen: true }).catch((e: unknown) => {
    logger.warn(
      `no ACP socket at ${acpPath} (${(e as Error).message}): \`shadowbox acp\` runs the bridge as a process of its own`,
    );
    return null;
  });
}

/**
 * With port 0 ("any"), the daemon first tries the port it had last time, so an open web page finds it
 * again after a restart; a taken port falls back to a fresh one. The port is remembered in the state dir.
 */
async function listenWeb(
  port: number,
  portFile: string,
  listen: (port: number) => Promise<HttpServer>,
): Promise<HttpServer> {
  let server: HttpServer | null = null;
  if (port === 0) {
    const last = Number((await readFile(portFile, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(last) && last > 0 && last < 65536) server = await listen(last).catch(() => null);
  }
  server ??= await listen(port);
  // A hint only (not fsynced): a torn or lost file just means a fresh port next time.
  if (port === 0) await writeFileAtomic(portFile, `${server.port}\n`, { durability: 'none' }).catch(() => undefined);
  return server;
}
