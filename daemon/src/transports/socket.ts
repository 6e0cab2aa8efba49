import { randomBytes } from 'node:crypto';
import { chmod, link, lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { CappedFramedReader } from './framing.js';
import { FrameWriter } from './frame-writer.js';
import { createBadMessageRelay, type ChannelHandler } from './channel.js';

/** A listening Unix socket server; close() stops accepting and ends every open link. */
export interface SocketServer {
  readonly path: string;
  /** Stops accepting; links still open `graceMs` later (default 0) are destroyed, the others ended on their own. */
  close(graceMs?: number): Promise<void>;
}

/** Whether something accepts connections on a Unix socket path (a live daemon), or it is a stale file. */
function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/**
 * Clears the way for a new socket: nothing there is fine; a socket nobody answers on (left by a daemon that
 * died) is removed; a live socket (another daemon on another state dir) and anything that is not a socket (a
 * regular file, a folder, a symlink) are left alone and refused.
 */
async function removeStaleSocket(socketPath: string): Promise<void> {
  const st = await lstat(socketPath).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (!st) return;
  if (!st.isSocket())
    throw new ShadowboxError(
      ErrorCodes.ConfigInvalid,
      'socket_path_taken',
      `${socketPath} exists and is not a socket; shadowbox removes only a stale socket of its own — move that file or choose another socket path`,
      { path: socketPath },
    );
  if (await answers(socketPath))
    throw new ShadowboxError(
      ErrorCodes.ConfigInvalid,
      'socket_in_use',
      `something is listening on ${socketPath} already (another shadowbox daemon?); choose another socket path`,
      { path: socketPath },
    );
  await unlink(socketPath).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}

/**
 * Listens on a Unix socket (0600) in a folder the caller made private (state's ensurePrivateDir), and
 * turns each connection into a Channel with LSP framing. Only a stale socket file is replaced; close()
 * removes the socket only while it is still the one this server created.
 */
export function listenSocket(socketPath: string, maxBytes: number, onChannel: ChannelHandler): Promise<SocketServer> {
  return listenUnixSocket(socketPath, (socket) => {
    const bad = createBadMessageRelay();
    const reader = new CappedFramedReader(socket, maxBytes, bad.relay);
    const writer = new FrameWriter(socket);
    writer.onError(() => socket.destroy());
    onChannel({ transport: 'socket', reader, writer, setBadMessageHandler: bad.set, close: () => socket.end() });
  });
}

/**
 * A Unix socket (0600) in a private folder whose connections are handed over raw (the ACP socket: the protocol is
 * the handler's), half-open: a peer that ends its side still reads the answers the handler writes before it ends
 * its own. Replaces only a stale socket, and close() removes only its own, as listenSocket.
 */
export async function listenUnixSocket(
  socketPath: string,
  onSocket: (socket: net.Socket) => void,
  options: { allowHalfOpen?: boolean } = {},
): Promise<SocketServer> {
  await removeStaleSocket(socketPath);
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: options.allowHalfOpen ?? false }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    onSocket(socket);
  });
  // Bound under a temporary name, made 0600, then linked into place: the final path never exists with a
  // looser mode, link() never replaces a file that appeared meanwhile, and libuv's unlink-on-close hits
  // only the temporary name (already gone), never a file someone put at the final path.
  // (short: a Unix socket path has ~107 bytes)
  const bound = path.join(path.dirname(socketPath), `.sb-${randomBytes(3).toString('hex')}`);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bound, () => {
      server.off('error', reject);
      resolve();
    });
  });
  try {
    await chmod(bound, 0o600);
    await link(bound, socketPath).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
      throw new ShadowboxError(
        ErrorCodes.ConfigInvalid,
        'socket_path_taken',
        `${socketPath} appeared while the daemon was starting; left alone`,
        { path: socketPath },
      );
    });
  } catch (e) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw e;
  } finally {
    await unlink(bound).catch(() => undefined);
  }
  const { ino } = await lstat(socketPath);
  return {
    path: socketPath,
    close: async (graceMs = 0) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if (graceMs > 0 && sockets.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        const ended = Promise.all([...sockets].map((s) => new Promise((r) => s.once('close', r))));
        await Promise.race([ended, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
      }
      for (const s of sockets) s.destroy();
      await closed;
      // Only while the path is still this server's socket (the same inode) is it removed.
      const now = await lstat(socketPath).catch(() => null);
      if (now?.isSocket() && now.ino === ino) await unlink(socketPath).catch(() => undefined);
    },
  };
}
