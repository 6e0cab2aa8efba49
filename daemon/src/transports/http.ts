import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Defaults } from '@shadowbox/protocol';
import { createBadMessageRelay, type ChannelHandler } from './channel.js';
import { WebSocketMessageReader, WebSocketMessageWriter } from './websocket-stream.js';
import { checkHost, checkUpgrade } from './ws-auth.js';

/** A route on the loopback HTTP server (web client, /bundles/ mirror). Returns true when it handled the request. */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

export interface HttpServer {
  readonly port: number;
  readonly url: string;
  addRoute(route: HttpRoute): void;
  close(): Promise<void>;
}

export interface HttpServerOptions {
  port: number;
  token: string;
  maxBytes: number;
  onChannel: ChannelHandler;
  log: (msg: string) => void;
}

/**
 * HTTP on 127.0.0.1 only: upgrades /rpc to a WebSocket after the token/Origin/Host checks
 * (refusals are plain 401/403 with a reason), and serves routes added later (web page, bundles).
 */
export async function listenHttp(options: HttpServerOptions): Promise<HttpServer> {
  const routes: HttpRoute[] = [];
  let port = 0;
  // Loaded here, not at the top: a daemon without the web server (--no-web, stdio) never pays for ws.
  const { WebSocketServer } = await import('ws');
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: options.maxBytes,
    handleProtocols: (protocols) => (protocols.has(Defaults.wsSubprotocol) ? Defaults.wsSubprotocol : false),
  });
  // node:http loads with the web server, not at every daemon start (most run without one).
  const server = process.getBuiltinModule('node:http').createServer((req, res) => {
    void (async () => {
      res.setHeader('Referrer-Policy', 'no-referrer');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      if (!checkHost(req.headers.host, port))
        return send(res, 403, 'Host header must be a loopback name with the daemon port');
      for (const route of routes) if (await route(req, res)) return;
      send(res, 404, 'not found');
    })().catch((e: unknown) => {
      options.log(`http: ${(e as Error).message}`);
      if (!res.headersSent) send(res, 500, 'internal error');
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const refusal = checkUpgrade(req, port, options.token);
    if (refusal) {
      options.log(`ws: refused upgrade (${refusal.reason}) from ${req.socket.remoteAddress ?? '?'}`);
      const body = JSON.stringify({ error: refusal.reason, message: refusal.message });
      socket.end(
        `HTTP/1.1 ${refusal.status} ${refusal.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const bad = createBadMessageRelay();
      const reader = new WebSocketMessageReader(ws, bad.relay);
      const writer = new WebSocketMessageWriter(ws);
      ws.on('error', () => ws.terminate());
      options.onChannel({
        transport: 'websocket',
        reader,
        writer,
        setBadMessageHandler: bad.set,
        close: () => ws.close(1000),
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : options.port;
  return {
    port,
    url: `http://127.0.0.1:${port}/`,
    addRoute: (route) => routes.push(route),
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function send(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`${message}\n`);
}
