import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Defaults } from '@shadowbox/protocol';
import type { Logger } from '../state/index.js';
import type { HttpServer } from '../transports/index.js';
import { contentTypeFor, openFile, resolveInside } from './static-files.js';

export { contentTypeFor, resolveInside } from './static-files.js';

/** What the web routes need: where the built page is, the daemon token (for /web/auth only), a logger. */
export interface WebRoutesDeps {
  /** Vite build output (`clients/web/dist`; `webDistDir()` from `@shadowbox/web`). */
  distDir: string;
  /** The WebSocket token; compared in /web/auth, never logged or sent. */
  token: string;
  logger: Logger;
}

/** Path the page probes with `Authorization: Bearer` to tell "daemon down" from "token no longer valid". */
export const WEB_AUTH_PATH = '/web/auth';

/**
 * The page's Content-Security-Policy: only our own scripts and styles, WebSocket only to this daemon,
 * no frames, forms, plugins or base rewriting. `host` is the already-validated loopback Host header.
 */
export function contentSecurityPolicy(host: string): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self' ws://${host}${Defaults.wsPath}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
    "object-src 'none'",
  ].join('; ');
}

const SECURITY_HEADERS: Record<string, string> = {
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Referrer-Policy': 'no-referrer',
  'X-Content-Type-Options': 'nosniff',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};

/**
 * Serves the built web client on the daemon's loopback HTTP server: `/` and `/index.html` (no-cache,
 * with CSP), `/assets/*` (content-hashed by Vite: immutable for a year), and `/web/auth` (204 when the
 * bearer token is right, else 401). Only GET/HEAD. Other paths fall through to later routes (/bundles/).
 * The token never appears in a URL the server sees (it rides in the fragment), and log lines carry
 * the path without its query string.
 */
export function registerWebRoutes(http: HttpServer, deps: WebRoutesDeps): void {
  http.addRoute((req, res) => handle(req, res, deps));
}

async function handle(req: IncomingMessage, res: ServerResponse, deps: WebRoutesDeps): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://x');
  const p = url.pathname;
  const ours =
    p === '/' || p === '/index.html' || p.startsWith('/assets/') || p === '/favicon.svg' || p === WEB_AUTH_PATH;
  if (!ours) return false;
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return text(res, 405, 'method not allowed');
  }
  if (p === WEB_AUTH_PATH) return authCheck(req, res, deps);
  const file = await resolveInside(deps.distDir, p === '/' ? '/index.html' : p);
  if (!file) {
    if (p === '/' || p === '/index.html') {
      deps.logger.warn(`web: no built page in ${deps.distDir} (run npm run build)`);
      return text(res, 503, 'the web client is not built: run `npm run build` in the shadowbox checkout');
    }
    deps.logger.debug(`web: 404 ${p}`);
    return text(res, 404, 'not found');
  }
  const html = file.endsWith('.html');
  const host = req.headers.host ?? '127.0.0.1';
  const { size, stream } = await openFile(file);
  res.writeHead(200, {
    'Content-Type': contentTypeFor(file),
    'Content-Length': String(size),
    'Cache-Control': html ? 'no-cache' : p.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...(html ? { 'Content-Security-Policy': contentSecurityPolicy(host) } : {}),
  });
  if (req.method === 'HEAD') {
    res.end();
    return true;
  }
  await new Promise<void>((resolve, reject) => {
    const s = stream();
    s.on('error', reject);
    res.on('close', resolve);
    s.pipe(res);
  });
  return true;
}

/** 204 when `Authorization: Bearer <token>` is right; a cross-origin page cannot send that header (no CORS). */
function authCheck(req: IncomingMessage, res: ServerResponse, deps: WebRoutesDeps): boolean {
  res.setHeader('Cache-Control', 'no-store');
  const origin = req.headers.origin;
  const host = req.headers.host ?? '';
  if (origin !== undefined && origin !== `http://${host}`) return text(res, 403, 'bad origin');
  const auth = req.headers.authorization ?? '';
  const given = /^Bearer\s+(.+)$/i.exec(auth)?.[1]?.trim() ?? '';
  const a = Buffer.from(given);
  const b = Buffer.from(deps.token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    deps.logger.info(`web: ${WEB_AUTH_PATH} refused (${given ? 'bad_token' : 'missing_token'})`);
    return text(res, 401, given ? 'bad token' : 'missing token');
  }
  res.writeHead(204);
  res.end();
  return true;
}

function text(res: ServerResponse, status: number, message: string): boolean {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`${message}\n`);
  return true;
}
