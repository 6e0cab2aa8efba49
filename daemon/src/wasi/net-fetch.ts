import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { AuditSink } from '../audit/index.js';
import { ErrorCodes, isShadowboxError, type ReasonOf, ShadowboxError } from '../errors.js';
import { addressAllowed, ipLiteral, matchRule, normalizeHost, type HostRule } from './host-rules.js';

/** A request from a sandboxed guest (already decoded; untrusted content). */
export interface NetFetchRequest {
  url: string;
  method: string;
  headers: [string, string][];
  body: Uint8Array | null;
}

/** The final response after redirects. */
export interface NetFetchResponse {
  url: string;
  status: number;
  headers: [string, string][];
  body: Uint8Array;
}

/** Per-request context: the granted rules and whom to attribute the audit entry to. */
export interface NetFetchContext {
  rules: readonly HostRule[];
  sessionId?: string;
  workspace?: string;
  /** Lower cap for this call (e.g. the guest's buffer); the service cap still applies. */
  maxBytes?: number;
  /** Aborts the request (e.g. when the calling run ended). */
  signal?: AbortSignal;
  /**
   * A second gate after the allowlist, asked for every URL (each redirect hop too) that a rule
   * matched, before DNS: throws a NetFetchRefused error to refuse (e.g. the person's policy).
   */
  authorize?: (url: URL) => Promise<void>;
}

/** Performs allowlisted HTTP(S) requests for sandboxed code; reusable by any tool. */
export interface NetFetchService {
  fetch(req: NetFetchRequest, ctx: NetFetchContext): Promise<NetFetchResponse>;
}

/** Options; `resolve` is injectable so tests can simulate DNS (rebinding, private answers). */
export interface NetFetchOptions {
  audit?: AuditSink;
  resolve?: (host: string) => Promise<string[]>;
  maxRedirects?: number;
  maxBytes?: number;
  timeoutMs?: number;
}

/** URL for the audit log: no query, fragment or credentials (they may carry secrets). */
function auditUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
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
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie']);

function refuse(
  reason: ReasonOf<'NetFetchRefused'>,
  message: string,
  details: Record<string, unknown> = {},
): ShadowboxError {
  return new ShadowboxError(ErrorCodes.NetFetchRefused, reason, message, details);
}

async function defaultResolve(host: string): Promise<string[]> {
  const r = await dnsLookup(host, { all: true, verbatim: true });
  return r.map((a) => a.address);
}

/** Creates the netFetch service: deny by default, checked DNS, pinned connections, hand-followed redirects. */
export function createNetFetch(opts: NetFetchOptions = {}): NetFetchService {
  const resolve = opts.resolve ?? defaultResolve;
  const maxRedirects = opts.maxRedirects ?? 5;
  const serviceMax = opts.maxBytes ?? 16 * 1024 * 1024;
  const timeoutMs = opts.timeoutMs ?? 15_000;

  /** Checks one URL against the rules and DNS; returns the address to connect to. */
  async function check(
    url: URL,
    rules: readonly HostRule[],
    authorize: NetFetchContext['authorize'],
  ): Promise<{ address: string; family: 4 | 6 }> {
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw refuse('scheme_not_allowed', `scheme ${url.protocol} is not allowed`);
    if (url.username !== '' || url.password !== '')
      throw refuse('userinfo_refused', 'URLs with user@ credentials are refused');
    const rule = matchRule(url, rules);
    if (!rule)
      throw refuse('host_not_allowed', `${url.protocol}//${url.host} is not in the netFetch allowlist`, {
        host: normalizeHost(url.hostname),
      });
    await authorize?.(url);
    const host = normalizeHost(url.hostname);
    const literal = ipLiteral(host);
    let addresses: string[];
    if (literal !== null) addresses = [literal];
    else {
      try {
        addresses = await resolve(host);
      } catch (e) {
        throw new ShadowboxError(
          ErrorCodes.NetFetchRefused,
          'dns_failed',
          `could not resolve ${host}`,
          { host },
          { cause: e },
        );
      }
    }
    if (addresses.length === 0) throw refuse('dns_failed', `no addresses for ${host}`, { host });
    // Every answer must be allowed (a mixed answer is a rebinding attempt); connect to the first.
    for (const a of addresses) {
      if (!ipaddr.isValid(a) || !addressAllowed(a, rule))
        throw refuse('address_not_allowed', `${host} resolves to a non-public address`, { host, address: a });
    }
    const address = addresses[0] ?? '';
    return { address, family: ipaddr.parse(address).kind() === 'ipv6' ? 6 : 4 };
  }

  async function once(
    url: URL,
    req: NetFetchRequest,
    pinned: { address: string; family: 4 | 6 },
    max: number,
    signal: AbortSignal,
  ): Promise<NetFetchResponse & { location?: string }> {
    const lookup: LookupFunction = (_host, options, cb) => {
      if ((options as { all?: boolean }).all)
        (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [pinned]);
      else cb(null, pinned.address, pinned.family);
    };
    const headers: Record<string, string> = {};
    for (const [k, v] of req.headers) if (!DROP_HEADERS.has(k.toLowerCase())) headers[k] = v;
    if (req.body) headers['content-length'] = String(req.body.byteLength);
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolvePromise, reject) => {
      const r = lib.request(url, { method: req.method, headers, lookup, signal, agent: false }, (res) => {
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
            url: url.href,
            status: res.statusCode ?? 0,
            headers: hs,
            body: Buffer.concat(chunks),
            location: res.headers.location,
          });
        });
      });
      r.on('error', reject);
      r.end(req.body ?? undefined);
    });
  }

  async function fetchChecked(req: NetFetchRequest, ctx: NetFetchContext, hops: string[]): Promise<NetFetchResponse> {
    if (!METHODS.has(req.method)) throw refuse('method_not_allowed', `method ${req.method} is not allowed`);
    let url: URL;
    try {
      url = new URL(req.url);
    } catch (e) {
      throw new ShadowboxError(ErrorCodes.NetFetchRefused, 'bad_url', 'netFetch URL is invalid', {}, { cause: e });
    }
    const max = Math.min(serviceMax, ctx.maxBytes ?? serviceMax);
    const signal = ctx.signal
      ? AbortSignal.any([AbortSignal.timeout(timeoutMs), ctx.signal])
      : AbortSignal.timeout(timeoutMs);
    let current = { ...req, headers: [...req.headers] };
    for (let hop = 0; ; hop++) {
      hops.push(url.href);
      const pinned = await check(url, ctx.rules, ctx.authorize);
      let res: NetFetchResponse & { location?: string };
      try {
        res = await once(url, current, pinned, max, signal);
      } catch (e) {
        if (isShadowboxError(e)) throw e;
        const reason = ctx.signal?.aborted ? 'cancelled' : signal.aborted ? 'timeout' : 'connect_failed';
        throw new ShadowboxError(
          ErrorCodes.NetFetchRefused,
          reason,
          `netFetch to ${url.host} failed`,
          { host: url.host },
          { cause: e },
        );
      }
      if (![301, 302, 303, 307, 308].includes(res.status) || res.location === undefined) {
        const { location: _l, ...final } = res;
        return final;
      }
      if (hop >= maxRedirects) throw refuse('too_many_redirects', `more than ${maxRedirects} redirects`);
      const next = new URL(res.location, url);
      if (next.origin !== url.origin)
        current.headers = current.headers.filter(([k]) => !CREDENTIAL_HEADERS.has(k.toLowerCase()));
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && current.method === 'POST'))
        current = { ...current, method: 'GET', body: null };
      url = next;
    }
  }

  return {
    async fetch(req, ctx) {
      const hops: string[] = [];
      const started = Date.now();
      try {
        const res = await fetchChecked(req, ctx, hops);
        await opts.audit?.append({
          type: 'net.fetch',
          workspace: ctx.workspace ?? '',
          sessionId: ctx.sessionId,
          data: {
            method: req.method,
            url: auditUrl(req.url),
            hops: hops.map(auditUrl),
            status: res.status,
            bytes: res.body.byteLength,
            ms: Date.now() - started,
          },
        });
        return res;
      } catch (e) {
        const reason = isShadowboxError(e) ? e.reason : 'net_fetch_failed';
        await opts.audit?.append({
          type: 'net.fetch',
          workspace: ctx.workspace ?? '',
          sessionId: ctx.sessionId,
          data: {
            method: req.method,
            url: auditUrl(req.url),
            hops: hops.map(auditUrl),
            refused: reason,
            ms: Date.now() - started,
          },
        });
        throw e;
      }
    },
  };
}
