import type { AuditSink } from '../audit/index.js';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import { checkUrl, refuse, type Resolver } from './check.js';
import { requestChecked } from './connect.js';
import type { HostRule } from './host-rules.js';
import type { CheckedTarget, FetchAuthorizer, NetFetchRequest, NetFetchResponse } from './types.js';

/** Per-request context: what allows it (manifest rules and/or the policy) and whom the audit entry names. */
export interface NetFetchContext {
  /** A bundle manifest's allowlist; every URL (each redirect hop too) must match one rule. */
  rules?: readonly HostRule[];
  /** The person's policy, asked for every URL's host and every resolved address. */
  authorize?: FetchAuthorizer;
  sessionId?: string;
  workspace?: string;
  /** Lower cap for this call (e.g. the guest's buffer); the service cap still applies. */
  maxBytes?: number;
  /** Aborts the request (e.g. when the calling run ended). */
  signal?: AbortSignal;
}

/** Performs checked HTTP(S) requests for sandboxed code; reusable by any tool. */
export interface NetFetchService {
  fetch(req: NetFetchRequest, ctx: NetFetchContext): Promise<NetFetchResponse>;
}

/** Options; `resolve` is injectable so tests can simulate DNS (rebinding, private answers). */
export interface NetFetchOptions {
  audit?: AuditSink;
  resolve?: Resolver;
  maxRedirects?: number;
  maxBytes?: number;
  timeoutMs?: number;
  /** Observes every connection about to be opened (tests prove refusals happen before any). */
  onConnect?: (target: CheckedTarget) => void;
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
const CREDENTIAL_HEADERS = new Set(['authorization', 'cookie']);

/** Creates the netFetch service: deny by default, checked addresses, pinned connections, hand-followed redirects. */
export function createNetFetch(opts: NetFetchOptions = {}): NetFetchService {
  const maxRedirects = opts.maxRedirects ?? 5;
  const serviceMax = opts.maxBytes ?? 16 * 1024 * 1024;
  const timeoutMs = opts.timeoutMs ?? 15_000;

  async function fetchChecked(req: NetFetchRequest, ctx: NetFetchContext, hops: string[]): Promise<NetFetchResponse> {
    if (!METHODS.has(req.method)) throw refuse('method_not_allowed', `method ${req.method} is not allowed`);
    const max = Math.min(serviceMax, ctx.maxBytes ?? serviceMax);
    const signal = ctx.signal
      ? AbortSignal.any([AbortSignal.timeout(timeoutMs), ctx.signal])
      : AbortSignal.timeout(timeoutMs);
    let current = { ...req, headers: [...req.headers] };
    let url: string | URL = req.url;
    for (let hop = 0; ; hop++) {
      hops.push(typeof url === 'string' ? url : url.href);
      const target = await checkUrl(url, {
        ...(ctx.rules ? { rules: ctx.rules } : {}),
        ...(ctx.authorize ? { authorize: ctx.authorize } : {}),
        ...(opts.resolve ? { resolve: opts.resolve } : {}),
      });
      let res: NetFetchResponse & { location?: string };
      try {
        opts.onConnect?.(target);
        res = await requestChecked(target, current, max, signal);
      } catch (e) {
        if (isShadowboxError(e)) throw e;
        const reason = ctx.signal?.aborted ? 'cancelled' : signal.aborted ? 'timeout' : 'connect_failed';
        throw new ShadowboxError(
          ErrorCodes.NetFetchRefused,
          reason,
          `netFetch to ${target.url.host} failed`,
          { host: target.hostText },
          { cause: e },
        );
      }
      if (![301, 302, 303, 307, 308].includes(res.status) || res.location === undefined) {
        const { location: _l, ...final } = res;
        return final;
      }
      if (hop >= maxRedirects) throw refuse('too_many_redirects', `more than ${maxRedirects} redirects`);
      let next: URL;
      try {
        next = new URL(res.location, target.url);
      } catch (e) {
        throw new ShadowboxError(ErrorCodes.NetFetchRefused, 'bad_url', 'redirect to an invalid URL', {}, { cause: e });
      }
      if (next.origin !== target.url.origin)
        current.headers = current.headers.filter(([k]) => !CREDENTIAL_HEADERS.has(k.toLowerCase()));
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && current.method === 'POST'))
        current = { ...current, method: 'GET', body: null };
      url = next;
    }
  }

  const record = (req: NetFetchRequest, ctx: NetFetchContext, data: Record<string, unknown>) =>
    opts.audit?.append({
      type: 'net.fetch',
      workspace: ctx.workspace ?? '',
      sessionId: ctx.sessionId,
      data: { method: req.method, url: auditUrl(req.url), ...data },
    });

  return {
    async fetch(req, ctx) {
      const hops: string[] = [];
      const started = Date.now();
      try {
        const res = await fetchChecked(req, ctx, hops);
        await record(req, ctx, {
          hops: hops.map(auditUrl),
          status: res.status,
          bytes: res.body.byteLength,
          ms: Date.now() - started,
        });
        return res;
      } catch (e) {
        const reason = isShadowboxError(e) ? e.reason : 'net_fetch_failed';
        await record(req, ctx, { hops: hops.map(auditUrl), refused: reason, ms: Date.now() - started });
        throw e;
      }
    },
  };
}
