import { z } from 'zod';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import type { NetFetchRequest, NetFetchResponse } from './net-fetch.js';

// The bytes exchanged over the `shadowbox.net_fetch` import (see docs/wasi.md). Request: UTF-8
// JSON {url, method, headers: [[k, v]], body: base64|null}. Reply: one JSON line
// {url, status, headers, bodyBytes} or {error, message}, "\n", then the raw body.

/** Serves one guest request: raw request bytes and the guest's buffer size in, reply bytes out. */
export type FetchBridge = (request: Uint8Array, cap: number, signal: AbortSignal) => Promise<Uint8Array>;

const RequestSchema = z
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
  .strict();

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
  const r = RequestSchema.safeParse(value);
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
  return Buffer.concat([head, res.body]);
}

/** Encodes a refusal or failure as `{error: reason, message}`, plus the policy `rule` that refused it when there is one. */
export function encodeFetchError(e: unknown): Uint8Array {
  const reason = isShadowboxError(e) ? e.reason : 'net_fetch_failed';
  const message = e instanceof Error ? e.message : String(e);
  const rule = isShadowboxError(e) && typeof e.data.rule === 'string' ? e.data.rule : undefined;
  return Buffer.from(`${JSON.stringify({ error: reason, message, ...(rule !== undefined ? { rule } : {}) })}\n`);
}
