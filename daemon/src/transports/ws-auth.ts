import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Defaults } from '@shadowbox/protocol';

/** Why an upgrade was refused: HTTP status plus a stable reason (never the token). */
export interface Refusal {
  status: 401 | 403;
  reason: 'bad_host' | 'bad_origin' | 'missing_origin' | 'missing_token' | 'bad_token' | 'bad_path';
  message: string;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The origins the daemon's own web page can have for a given port. */
export function ownOrigins(port: number): Set<string> {
  return new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`]);
}

/** Host header must name a loopback host with our port exactly (DNS-rebinding guard). */
export function checkHost(host: string | undefined, port: number): boolean {
  if (!host) return false;
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):(\d+)$/i.exec(host.trim());
  if (!m) return false;
  return LOOPBACK_NAMES.has(m[1].toLowerCase()) && Number(m[2]) === port;
}

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Where the client put the token: the Authorization header (non-browser) or a sub-protocol (the web page). */
export function tokenFrom(req: IncomingMessage): { where: 'header' | 'subprotocol'; token: string } | null {
  const auth = req.headers.authorization;
  if (auth && /^Bearer\s+/i.test(auth)) return { where: 'header', token: auth.replace(/^Bearer\s+/i, '').trim() };
  const offered = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
  const entry = offered.find((p) => p.startsWith(Defaults.wsTokenSubprotocolPrefix));
  if (entry) return { where: 'subprotocol', token: entry.slice(Defaults.wsTokenSubprotocolPrefix.length) };
  return null;
}

/**
 * Decides whether a WebSocket upgrade may proceed. Fails closed: Host must be loopback:port;
 * a token must be present and right; an Origin, when present, must be the daemon's own web
 * origin; a missing Origin is accepted only with the token in the Authorization header.
 */
export function checkUpgrade(req: IncomingMessage, port: number, token: string): Refusal | null {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname !== Defaults.wsPath)
    return { status: 403, reason: 'bad_path', message: `WebSocket endpoint is ${Defaults.wsPath}` };
  if (!checkHost(req.headers.host, port))
    return { status: 403, reason: 'bad_host', message: 'Host header must be a loopback name with the daemon port' };
  const given = tokenFrom(req);
  const origin = req.headers.origin;
  if (origin !== undefined && !ownOrigins(port).has(origin))
    return { status: 403, reason: 'bad_origin', message: 'Origin is not the daemon web origin' };
  if (!given)
    return {
      status: 401,
      reason: 'missing_token',
      message: 'a token is required: Authorization: Bearer <token> or the shadowbox.token.<token> sub-protocol',
    };
  if (origin === undefined && given.where !== 'header')
    return { status: 403, reason: 'missing_origin', message: 'a browser-style request without Origin is refused' };
  if (!sameToken(given.token, token))
    return { status: 401, reason: 'bad_token', message: 'the token is not valid for this daemon' };
  return null;
}
