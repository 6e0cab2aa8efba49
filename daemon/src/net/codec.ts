import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import type { NetFetchRequest, NetFetchResponse } from './types.js';

// The bytes exchanged over the `shadowbox.net_fetch` WASI import, by every guest (bundles' C code and the
// python bundle's Lib/shadowbox.py; see docs/wasi.md). Request: UTF-8 JSON {url, method, headers: [[k, v]],
// body: base64|null}. Reply: one JSON line {url, status, headers, bodyBytes} or {error, message, rule?},
// "\n", then the raw body.

/** Serves one guest request: raw request bytes and the guest's buffer size in, reply bytes out. */
export type FetchBridge = (request: Uint8Array, cap: number, signal: AbortSignal) => Promise<Uint8Array>;

/** Room kept in the guest's buffer for the reply's head line. */
const HEAD_ROOM = 4096;

const RequestSchema = lazySchema(() =>
  z
    .object({
      url: z.string().max(8192),
      method: z
        .string()
        .regex(/^[A-Z]{1,16}$/)
        .default('GET'),
      headers: z
        .array(z.tuple([z.string().max(256), z.string().max(8192)]))
        .max(100)
        .default([]),
      body: z.string().nullable().default(null),
    })
    .strict(),
);

/** Parses the guest's request bytes (untrusted). */
export function decodeFetchRequest(raw: Uint8Array): NetFetchRequest {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw).toString('utf8')) as unknown;
  } catch (e) {
    throw new ShadowboxError(
      ErrorCodes.NetFetchRefused,
      'bad_request',
      'netFetch request is not JSON',
      {},
      { cause: e },
    );
  }
  const r = RequestSchema().safeParse(value);
  if (!r.success)
    throw new ShadowboxError(
      ErrorCodes.NetFetchRefused,
      'bad_request',
      `netFetch request is invalid: ${r.error.issues[0]?.message ?? ''}`,
    );
  const { url, method, headers, body } = r.data;
  return { url, method, headers, body: body === null ? null : Buffer.from(body, 'base64') };
}

/** Encodes a response for the guest. */
export function encodeFetchResponse(res: NetFetchResponse): Uint8Array {
  const head = Buffer.from(
    `${JSON.stringify({ url: res.url, status: res.status, headers: res.headers, bodyBytes: res.body.byteLength })}\n`,
  );
  return Buffer.concat([head, Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength)]);
}

/** Encodes a refusal or failure as `{error: reason, message}`, plus the policy `rule` that refused it when there is one. */
export function encodeFetchError(e: unknown): Uint8Array {
  const reason = isShadowboxError(e) ? e.reason : 'net_fetch_failed';
  const message = e instanceof Error ? e.message : String(e);
  const rule = isShadowboxError(e) && typeof e.data.rule === 'string' ? e.data.rule : undefined;
  return Buffer.from(`${JSON.stringify({ error: reason, message, ...(rule !== undefined ? { rule } : {}) })}\n`);
}

/** Performs one decoded request; `maxBytes` is what fits the guest's buffer. */
export type GuestFetchHandler = (
  req: NetFetchRequest,
  o: { maxBytes: number; signal: AbortSignal },
) => Promise<NetFetchResponse>;

/**
 * The bridge every WASI runner serves `shadowbox.net_fetch` with: decode, perform, encode. Never
 * throws: a refusal is an `{error}` reply, and a reply that would not fit the guest's buffer is
 * refused (`response_too_large`) rather than cut.
 */
export function createFetchBridge(handler: GuestFetchHandler | null): FetchBridge {
  return async (raw, cap, signal) => {
    try {
      if (!handler)
        throw new ShadowboxError(
          ErrorCodes.NetFetchRefused,
          'net_fetch_not_allowed',
          'this run was not granted netFetch',
        );
      const req = decodeFetchRequest(raw);
      const out = encodeFetchResponse(await handler(req, { maxBytes: Math.max(0, cap - HEAD_ROOM), signal }));
      if (out.byteLength > cap)
        throw new ShadowboxError(
          ErrorCodes.NetFetchRefused,
          'response_too_large',
          `response exceeds the guest's ${cap}-byte buffer`,
        );
      return out;
    } catch (e) {
      return encodeFetchError(e);
    }
  };
}
