import net from 'node:net';
import type { LookupFunction } from 'node:net';
import type { CheckedTarget, NetFetchRequest, NetFetchResponse } from './types.js';
import { refuse } from './check.js';

/** A DNS lookup that only ever answers the checked address: the name is never resolved a second time. */
export function pinnedLookup(target: CheckedTarget): LookupFunction {
  const pinned = { address: target.address.address, family: target.address.family };
  return (_host, options, cb) => {
    if ((options as { all?: boolean }).all)
      (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
    else cb(null, pinned.address, pinned.family);
  };
}

/** Opens a TCP connection to a checked target's address and port (for proxies that speak their own protocol). */
export function connectChecked(target: CheckedTarget, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: target.address.address, port: target.port, family: target.address.family });
    const onAbort = () => socket.destroy(new Error('aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      resolve(socket);
    });
    socket.once('error', (e) => {
      signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
  });
}

const DROP_HEADERS = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);

/**
 * One HTTP(S) exchange with a checked target: a fresh connection (no agent, no keep-alive) to the
 * pinned address, the URL's own Host header and TLS server name, the body capped while streaming.
 */
export function requestChecked(
  target: CheckedTarget,
  req: NetFetchRequest,
  max: number,
  signal: AbortSignal,
): Promise<NetFetchResponse & { location?: string }> {
  const headers: Record<string, string> = {};
  for (const [k, v] of req.headers) if (!DROP_HEADERS.has(k.toLowerCase())) headers[k] = v;
  if (req.body) headers['content-length'] = String(req.body.byteLength);
  // Loaded on the first fetch, not at daemon start (https brings tls: ~4 ms of every start).
  const lib = process.getBuiltinModule(target.scheme === 'https' ? 'node:https' : 'node:http');
  return new Promise((resolvePromise, reject) => {
    const r = lib.request(
      target.url,
      { method: req.method, headers, lookup: pinnedLookup(target), signal, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.byteLength;
          if (size > max) {
            res.destroy();
            reject(refuse('response_too_large', `response body exceeds ${max} bytes`, { maxBytes: max }));
            return;
          }
          chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          const hs: [string, string][] = [];
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2)
            hs.push([res.rawHeaders[i] ?? '', res.rawHeaders[i + 1] ?? '']);
          resolvePromise({
            url: target.url.href,
            status: res.statusCode ?? 0,
            headers: hs,
            body: Buffer.concat(chunks),
            location: res.headers.location,
          });
        });
      },
    );
    r.on('error', reject);
    r.end(req.body ?? undefined);
  });
}
