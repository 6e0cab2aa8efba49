import { AsyncLocalStorage } from 'node:async_hooks';
import type { ModelEvent } from './types.js';

/** One failed attempt the SDK is about to retry: shown to the person while the turn waits. */
export type RetryNotice = Omit<Extract<ModelEvent, { type: 'retry' }>, 'type'>;

// Which model call a fetch belongs to: the SDKs retry inside one awaited `create()`, so the fetch
// wrapper finds the caller's listener through the async context it was started in.
const listeners = new AsyncLocalStorage<{ notify: (n: RetryNotice) => void; signal: AbortSignal }>();

/** The endpoint as shown to people: scheme, host, port and path, never credentials or a query. */
export function displayUrl(input: string | URL | Request): string {
  try {
    const u = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

/** The innermost useful text of an error chain: "connect ECONNREFUSED 127.0.0.1:9" rather than "fetch failed". */
export function causeText(e: unknown): string {
  const parts: string[] = [];
  for (let cur: unknown = e, depth = 0; cur && depth < 5; depth++) {
    const err = cur as { message?: unknown; code?: unknown; cause?: unknown };
    const msg = typeof err.message === 'string' ? err.message : '';
    if (msg && !parts.includes(msg)) parts.push(msg);
    else if (typeof err.code === 'string' && !parts.some((p) => p.includes(err.code as string))) parts.push(err.code);
    cur = err.cause;
  }
  // The last message is the root cause; "fetch failed" / "Connection error." add nothing to it.
  const useful = parts.filter((p) => !/^(fetch failed|connection error\.?|request failed)$/i.test(p));
  return (useful.at(-1) ?? parts.at(-1) ?? String(e)).slice(0, 300);
}

/** The SDKs retry these statuses unless the server says otherwise (x-should-retry). */
function retryableStatus(res: Response): boolean {
  const header = res.headers.get('x-should-retry');
  if (header === 'true') return true;
  if (header === 'false') return false;
  return res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500;
}

function statusReason(status: number): string {
  if (status === 429) return 'rate_limited';
  if (status === 529 || status === 503) return 'overloaded';
  return status >= 500 ? 'server_error' : 'unexpected_status';
}

/**
 * Wraps the SDKs' fetch: when an attempt fails in a way the SDK will retry (a connection error, a
 * timeout, 408/409/429/5xx) and retries are left (the SDKs send X-Stainless-Retry-Count), the
 * listener of the model call it belongs to hears of it at once, with the URL and the cause.
 */
export function observeAttempts(inner: typeof fetch, maxRetries: number): typeof fetch {
  return async (input, init) => {
    const listener = listeners.getStore();
    const retryCount = Number(new Headers(init?.headers).get('x-stainless-retry-count') ?? '0') || 0;
    const notice = (reason: string, message: string) => {
      if (!listener || listener.signal.aborted || retryCount >= maxRetries) return;
      listener.notify({
        attempt: retryCount + 2,
        maxAttempts: maxRetries + 1,
        url: displayUrl(input),
        reason,
        message,
      });
    };
    let res: Response;
    try {
      res = await inner(input, init);
    } catch (e) {
      const timeout = /timed? ?out/i.test(`${String(e)} ${String((e as { cause?: unknown })?.cause)}`);
      notice(timeout ? 'timeout' : 'network', causeText(e));
      throw e;
    }
    if (!res.ok && retryableStatus(res)) notice(statusReason(res.status), `HTTP ${res.status}`);
    return res;
  };
}

/**
 * Awaits a model call's start (the SDK's create(), retries included) while yielding a `retry` event for
 * each failed attempt as it happens, then returns what create() resolved to.
 */
export async function* withRetryEvents<T>(
  signal: AbortSignal,
  start: () => Promise<T>,
): AsyncGenerator<Extract<ModelEvent, { type: 'retry' }>, T> {
  const queue: RetryNotice[] = [];
  let wake: (() => void) | null = null;
  const notify = (n: RetryNotice) => {
    queue.push(n);
    wake?.();
  };
  const started = listeners.run({ notify, signal }, start);
  const settled = started.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  for (;;) {
    while (queue.length > 0) yield { type: 'retry', ...queue.shift()! };
    const next = await Promise.race([settled, new Promise<null>((r) => (wake = () => r(null)))]);
    wake = null;
    if (next === null) continue;
    while (queue.length > 0) yield { type: 'retry', ...queue.shift()! };
    if (next.ok) return next.value;
    throw next.error;
  }
}
