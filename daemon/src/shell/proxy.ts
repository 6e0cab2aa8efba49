import type http from 'node:http';
import type net from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AuditSink } from '../audit/index.js';
import { isShadowboxError } from '../errors.js';
import { checkUrl, connectChecked, pinnedLookup, type FetchAuthorizer, type Resolver } from '../net/index.js';

/** One host a networked command asked for, and what the proxy answered. */
export interface ProxyDecision {
  host: string;
  port: number;
  allowed: boolean;
  /** The refusal's reason (`policy_denied`, `address_not_allowed`, …) when refused. */
  reason?: string;
  rule?: string;
}

/** A proxy serving one run over a Unix socket (bound into the sandbox). */
export interface RunProxy {
  socket: string;
  decisions(): ProxyDecision[];
  close(): Promise<void>;
}

/** Headers that belong to one hop (or to the proxy) and are never forwarded. */
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'proxy-authenticate',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Why: a command with `network: true` reaches the internet only through the daemon. Its sandbox has no
 * network of its own (its own namespace: loopback only); HTTP(S)_PROXY points at a port socat serves
 * from this Unix socket. Every CONNECT (https) and absolute-URL request (http) goes through net's checks —
 * canonical host, the person's policy on the host and on every resolved address, non-public addresses
 * refused unless a rule names them and their port — and connects to the checked address (no second DNS
 * answer). A refusal is a 403 whose body says why and how to allow it. Every decision is audited.
 */
export async function startRunProxy(o: {
  authorize: FetchAuthorizer;
  audit?: AuditSink;
  workspace: string;
  sessionId: string;
  callId?: string;
  resolve?: Resolver;
}): Promise<RunProxy> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sbx-proxy-'));
  const socket = path.join(dir, 'p.sock');
  const decisions = new Map<string, ProxyDecision>();
  const sockets = new Set<net.Socket>();
  const note = (d: ProxyDecision, method: string, url: string) => {
    decisions.set(`${d.host}:${d.port}:${String(d.allowed)}`, d);
    void o.audit
      ?.append({
        type: 'net.proxy',
        workspace: o.workspace,
        sessionId: o.sessionId,
        data: { tool: 'shell', ...(o.callId ? { callId: o.callId } : {}), method, url, ...d },
      })
      .catch(() => undefined);
  };
  const check = async (url: string, method: string) => {
    try {
      const t = await checkUrl(url, { authorize: o.authorize, ...(o.resolve ? { resolve: o.resolve } : {}) });
      note({ host: t.hostText, port: t.port, allowed: true }, method, `${t.url.protocol}//${t.url.host}`);
      return { ok: true as const, target: t };
    } catch (e) {
      const reason = isShadowboxError(e) ? String(e.reason) : 'bad_url';
      const data: Record<string, unknown> = isShadowboxError(e) ? e.data : {};
      let host = url;
      let port = 0;
      try {
        const u = new URL(url);
        host = u.hostname;
        port = Number(u.port) || (u.protocol === 'https:' ? 443 : 80);
      } catch {
        // unparsable: reported as given
      }
      const d: ProxyDecision = {
        host: typeof data.host === 'string' ? data.host : host,
        port: typeof data.port === 'number' ? data.port : port,
        allowed: false,
        reason,
        ...(typeof data.rule === 'string' ? { rule: data.rule } : {}),
      };
      note(d, method, url);
      return { ok: false as const, message: (e as Error).message, reason };
    }
  };
  const refusal = (reason: string, message: string) => `shadowbox refused this connection (${reason}): ${message}\n`;

  // node:http loads with the first shell proxy, not at every daemon start.
  const { createServer, request } = process.getBuiltinModule('node:http');
  const server = createServer((req, res) => {
    void (async () => {
      const url = req.url ?? '';
      if (!/^https?:\/\//i.test(url)) {
        res
          .writeHead(400, { 'content-type': 'text/plain' })
          .end('this is a proxy: send absolute http:// URLs or CONNECT\n');
        return;
      }
      const c = await check(url, req.method ?? 'GET');
      if (!c.ok) {
        res.writeHead(403, { 'content-type': 'text/plain' }).end(refusal(c.reason, c.message));
        return;
      }
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP.has(k) && v !== undefined) headers[k] = v;
      const up = request(
        c.target.url,
        { method: req.method, headers, lookup: pinnedLookup(c.target), agent: false },
        (upRes) => {
          const out: http.OutgoingHttpHeaders = {};
          for (const [k, v] of Object.entries(upRes.headers)) if (!HOP.has(k) && v !== undefined) out[k] = v;
          res.writeHead(upRes.statusCode ?? 502, out);
          upRes.pipe(res);
        },
      );
      up.on('error', (e) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(refusal('connect_failed', e.message));
      });
      req.pipe(up);
    })();
  });
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    void (async () => {
      const hostPort = req.url ?? '';
      const c = await check(`https://${hostPort}/`, 'CONNECT');
      if (!c.ok) {
        const body = refusal(c.reason, c.message);
        client.end(
          `HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
        return;
      }
      try {
        const up = await connectChecked(c.target);
        sockets.add(up);
        up.on('close', () => sockets.delete(up));
        up.on('error', () => client.destroy());
        client.on('error', () => up.destroy());
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.byteLength) up.write(head);
        up.pipe(client);
        client.pipe(up);
      } catch (e) {
        client.end(`HTTP/1.1 502 Bad Gateway\r\n\r\n${refusal('connect_failed', (e as Error).message)}`);
      }
    })();
  });
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  return {
    socket,
    decisions: () => [...decisions.values()],
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
