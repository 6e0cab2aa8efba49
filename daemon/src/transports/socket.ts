import { chmod, mkdir, rm, stat } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { StreamMessageWriter } from 'vscode-jsonrpc/node';
import { CappedFramedReader } from './framing.js';
import { createBadMessageRelay, type ChannelHandler } from './channel.js';

/** A listening Unix socket server; close() stops accepting and ends every open link. */
export interface SocketServer {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on a Unix socket (folder 0700, socket 0600) and turns each connection into a Channel
 * with LSP framing. A stale socket file left by a crashed daemon is replaced (the caller holds
 * the daemon lock, so nobody else is listening on it).
 */
export async function listenSocket(
  socketPath: string,
  maxBytes: number,
  onChannel: ChannelHandler,
): Promise<SocketServer> {
  const dir = path.dirname(socketPath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  await rm(socketPath, { force: true });
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const bad = createBadMessageRelay();
    const reader = new CappedFramedReader(socket, maxBytes, bad.relay);
    const writer = new StreamMessageWriter(socket);
    writer.onError(() => socket.destroy());
    onChannel({ transport: 'socket', reader, writer, setBadMessageHandler: bad.set, close: () => socket.end() });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chmod(socketPath, 0o600);
  return {
    path: socketPath,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      if (await stat(socketPath).catch(() => null)) await rm(socketPath, { force: true });
    },
  };
}
