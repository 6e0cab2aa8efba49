import { type ErrorCode, ErrorCodes, type ErrorReason } from '@shadowbox/protocol';
import { isShadowboxError, ShadowboxError } from '../errors.js';
import type { ModelEvent } from './types.js';
import type { ModelDeadline } from './deadline.js';

/** What a provider failure is mapped from: the SDK's view of it, normalised across both SDKs. */
export type FailureInfo =
  | {
      kind: 'status';
      status: number;
      providerType?: string;
      providerCode?: string;
      providerMessage: string;
      retryAfterMs?: number;
    }
  | { kind: 'stream_error'; providerType?: string; providerMessage: string }
  | { kind: 'connection'; message: string }
  | { kind: 'timeout' }
  | { kind: 'interrupted'; message: string }
  | { kind: 'incomplete' }
  /** Nothing arrived for `ms`: before the answer's headers (`first_byte`) or between streamed events (`idle`). */
  | { kind: 'no_response'; phase: 'first_byte' | 'idle'; ms: number }
  /** A streamed chunk that is not what the wire format says (not JSON). */
  | { kind: 'malformed'; message: string };

export interface FailureContext {
  provider: string;
  model: string;
  apiKeyEnv: string;
  /** The endpoint, named in every "cannot reach" message. */
  baseUrl?: string;
  /** How many attempts a call gets (retries + 1), named when all of them failed. */
  attempts?: number;
  /** Whether any event was already yielded (then nothing was or will be retried). */
  emitted: boolean;
}

const CONTEXT_TOO_LONG =
  /context[_ ]length|context window|prompt is too long|maximum context|too many tokens|input is too long/i;

/** Maps a final provider failure to a ShadowboxError with a provider code and a stable reason. */
export function providerError(f: FailureInfo, ctx: FailureContext, cause: unknown): ShadowboxError {
  const where = `${ctx.provider}/${ctx.model}`;
  const at = ctx.baseUrl ? ` at ${ctx.baseUrl}` : '';
  const tries = ctx.attempts && ctx.attempts > 1 && !ctx.emitted ? ` (${ctx.attempts} attempts)` : '';
  // The daemon read the key once, from the environment of the command that started it.
  const keyHint = `check ${ctx.apiKeyEnv}; the daemon (pid ${process.pid}) uses the value it started with, so after changing it run \`shadowbox stop\` and the next command starts a daemon with your environment`;
  const base = { provider: ctx.provider, model: ctx.model, emitted: ctx.emitted };
  // ProviderUnavailable is the transient kind: the same prompt may well work when sent again.
  const make = <C extends ErrorCode>(
    code: C,
    reason: ErrorReason<C>,
    message: string,
    extra: Record<string, unknown> = {},
  ) =>
    new ShadowboxError(
      code,
      reason,
      message,
      { ...base, ...extra, ...(code === ErrorCodes.ProviderUnavailable ? { retryable: true } : {}) },
      { cause },
    );
  switch (f.kind) {
    case 'status': {
      const extra = {
        status: f.status,
        ...(f.providerType ? { providerType: f.providerType } : {}),
        ...(f.providerCode ? { providerCode: f.providerCode } : {}),
      };
      const said = f.providerMessage ? `: ${f.providerMessage}` : '';
      if (f.status === 401)
        return make(
          ErrorCodes.ProviderAuth,
          'auth_failed',
          `${where} rejected the API key (401${said}); ${keyHint}.`,
          extra,
        );
      if (f.status === 403)
        return make(
          ErrorCodes.ProviderAuth,
          'forbidden',
          `${where} refused access (403${said}); check that ${ctx.apiKeyEnv} may use this model (the daemon, pid ${process.pid}, uses the value it started with).`,
          extra,
        );
      if (f.status === 404)
        return make(
          ErrorCodes.ModelNotFound,
          'model_not_found',
          `${where} was not found (404${said}); check the model name and the base URL.`,
          extra,
        );
      if (f.status === 429) {
        const wait =
          f.retryAfterMs !== undefined ? `; the provider asks to wait ${Math.ceil(f.retryAfterMs / 1000)} s` : '';
        return make(ErrorCodes.ProviderUnavailable, 'rate_limited', `${where} is rate limited (429${said})${wait}.`, {
          ...extra,
          ...(f.retryAfterMs !== undefined ? { retryAfterMs: f.retryAfterMs } : {}),
        });
      }
      if (f.status === 400 || f.status === 413 || f.status === 422) {
        if (
          f.providerCode === 'context_length_exceeded' ||
          f.status === 413 ||
          CONTEXT_TOO_LONG.test(f.providerMessage)
        ) {
          return make(
            ErrorCodes.ProviderRequestInvalid,
            'context_too_long',
            `The conversation is too long for ${where} (${f.status}${said}).`,
            extra,
          );
        }
        if (f.providerCode === 'model_not_found')
          return make(
            ErrorCodes.ModelNotFound,
            'model_not_found',
            `${where} was not found (${f.status}${said}).`,
            extra,
          );
        return make(
          ErrorCodes.ProviderRequestInvalid,
          'bad_request',
          `${where} rejected the request (${f.status}${said}).`,
          extra,
        );
      }
      if (f.status >= 500)
        return make(
          ErrorCodes.ProviderUnavailable,
          'server_error',
          `${where}${at} failed with a server error (${f.status}${said})${tries}.`,
          extra,
        );
      return make(
        ErrorCodes.ProviderUnavailable,
        'unexpected_status',
        `${where} answered with HTTP ${f.status}${said}.`,
        extra,
      );
    }
    case 'stream_error':
      return make(
        ErrorCodes.ProviderUnavailable,
        f.providerType === 'overloaded_error' ? 'overloaded' : 'stream_error',
        `${where} reported an error mid-stream: ${f.providerMessage}`,
        {
          ...(f.providerType ? { providerType: f.providerType } : {}),
        },
      );
    case 'connection':
      return make(
        ErrorCodes.ProviderUnavailable,
        'network',
        `Cannot reach ${where}${at}: ${f.message}${tries}. Is the server running, and is the base URL right?`,
        ctx.baseUrl ? { url: ctx.baseUrl } : {},
      );
    case 'timeout':
      return make(ErrorCodes.ProviderUnavailable, 'timeout', `${where}${at} did not answer in time${tries}.`);
    case 'interrupted':
      return make(
        ErrorCodes.ProviderUnavailable,
        'stream_interrupted',
        `The stream from ${where} was cut off (${f.message}); not retried because output had started.`,
      );
    case 'incomplete':
      return make(
        ErrorCodes.ProviderUnavailable,
        'stream_incomplete',
        `The stream from ${where} ended before the model finished its turn.`,
      );
    case 'no_response':
      return f.phase === 'first_byte'
        ? make(
            ErrorCodes.ProviderUnavailable,
            'first_byte_timeout',
            `${where} did not start answering within ${f.ms} ms (modelIdleTimeoutMs); try again.`,
            { timeoutMs: f.ms },
          )
        : make(
            ErrorCodes.ProviderUnavailable,
            'idle_timeout',
            `${where} stopped sending for ${f.ms} ms mid-answer (modelIdleTimeoutMs); try again.`,
            { timeoutMs: f.ms },
          );
    case 'malformed':
      return make(
        ErrorCodes.ProviderUnavailable,
        'malformed_stream',
        `${where} sent a streamed chunk that is not valid (${f.message}).`,
      );
  }
}

/** The error a stream ends with when its signal aborts. */
export function cancelledError(): ShadowboxError {
  return new ShadowboxError(ErrorCodes.RequestCancelled, 'cancelled', 'The model call was cancelled.');
}

/** Settles with `p`, or rejects as soon as `signal` aborts (the SDK may still be sleeping before a retry). */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(cancelledError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(cancelledError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Milliseconds a response asks to wait (`retry-after-ms`, or `retry-after` in seconds or as an HTTP date). */
export function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms && !Number.isNaN(parseFloat(ms))) return parseFloat(ms);
  const ra = headers?.get('retry-after');
  if (!ra) return undefined;
  const s = parseFloat(ra);
  if (!Number.isNaN(s)) return s * 1000;
  const at = Date.parse(ra);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * Wraps fetch for the SDKs: a Retry-After longer than `maxMs` turns into `x-should-retry: false`, so
 * the SDK fails at once (rate_limited, with the wait in the error) instead of sleeping for an hour.
 */
export function capRetryAfter(inner: typeof fetch, maxMs: number): typeof fetch {
  return async (input, init) => {
    const res = await inner(input, init);
    if (res.ok) return res;
    const wait = retryAfterMs(res.headers);
    if (wait === undefined || wait <= maxMs) return res;
    const headers = new Headers(res.headers);
    headers.set('x-should-retry', 'false');
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  };
}

/** The SDK log lines go to the daemon log (SDK debug lines, which hold request bodies, are not enabled). */
export function sdkLogger(
  logger: { info(m: string): void; warn(m: string): void; error(m: string): void; debug(m: string): void },
  name: string,
) {
  const line = (msg: string, rest: unknown[]) =>
    `${name}: ${msg}${rest.length ? ' ' + rest.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join(' ') : ''}`;
  return {
    debug: (msg: string, ...rest: unknown[]) => logger.debug(line(msg, rest)),
    info: (msg: string, ...rest: unknown[]) => logger.info(line(msg, rest)),
    warn: (msg: string, ...rest: unknown[]) => logger.warn(line(msg, rest)),
    error: (msg: string, ...rest: unknown[]) => logger.error(line(msg, rest)),
  };
}

/** What both SDK adapters turn their wire events into: model events per event, and the tail at the end (null: incomplete). */
export interface StreamAssembler<T> {
  push(item: T): Iterable<ModelEvent>;
  finish(): Iterable<ModelEvent> | null;
}

/**
 * Drains an SDK stream through an assembler: marks the context as having emitted (nothing is retried after
 * that), maps failures to typed errors (cancel wins; then a deadline that ran out; a chunk that is not JSON is
 * `malformed_stream`, not a cut-off), and closes the HTTP stream when the consumer stops early.
 */
export async function* pumpStream<T>(
  stream: AsyncIterable<T> & { controller: AbortController },
  acc: StreamAssembler<T>,
  ctx: FailureContext,
  signal: AbortSignal,
  normalize: (e: unknown, streaming: boolean) => FailureInfo,
  deadline?: ModelDeadline,
): AsyncGenerator<ModelEvent> {
  let finished = false;
  const it = stream[Symbol.asyncIterator]();
  // Rejects when the deadline runs out, so a stalled read is left behind at once.
  const ranOut = new Promise<never>((_, reject) =>
    deadline?.signal.addEventListener('abort', () => deadline.fired && reject(new Error('model deadline')), {
      once: true,
    }),
  );
  ranOut.catch(() => undefined);
  try {
    deadline?.streaming();
    for (;;) {
      const r = deadline ? await Promise.race([it.next(), ranOut]) : await it.next();
      if (r.done) break;
      deadline?.touch();
      for (const ev of acc.push(r.value)) {
        ctx.emitted = true;
        yield ev;
      }
    }
    if (signal.aborted) throw cancelledError();
    const tail = acc.finish();
    if (!tail) throw providerError({ kind: 'incomplete' }, ctx, undefined);
    finished = true;
    yield* tail;
  } catch (e) {
    if (signal.aborted) throw cancelledError();
    if (deadline?.fired) throw providerError({ kind: 'no_response', phase: deadline.fired, ms: deadline.ms }, ctx, e);
    if (isShadowboxError(e)) throw e;
    if (e instanceof SyntaxError) throw providerError({ kind: 'malformed', message: e.message }, ctx, e);
    throw providerError(normalize(e, true), ctx, e);
  } finally {
    deadline?.stop();
    if (!finished) stream.controller.abort();
  }
}

/** Starts an SDK call under a deadline: its failure typed (cancel, then first-byte timeout, then the SDK's own). */
export async function openStream<S>(
  start: (signal: AbortSignal) => Promise<S>,
  deadline: ModelDeadline,
  signal: AbortSignal,
  ctx: FailureContext,
  normalize: (e: unknown, streaming: boolean) => FailureInfo,
): Promise<S> {
  try {
    return await raceAbort(start(deadline.signal), deadline.signal);
  } catch (e) {
    deadline.stop();
    if (signal.aborted) throw cancelledError();
    if (deadline.fired) throw providerError({ kind: 'no_response', phase: deadline.fired, ms: deadline.ms }, ctx, e);
    throw providerError(normalize(e, false), ctx, e);
  }
}
