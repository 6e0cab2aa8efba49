import { z } from 'zod';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import type { PythonFetchRequest, PythonFetchResponse } from './types.js';

// The bytes exchanged with the guest's `shadowbox.fetch` (Lib/shadowbox.py) over the
// `shadowbox.net_fetch` import. Request: UTF-8 JSON {url, method, headers: [[k, v]], body: base64|null}.
// Reply: one JSON line {url, status, headers} or {error, message}, "\n", then the raw body.

const RequestSchema = z
  .object({
    url: z.string().max(8192),
    method: z.string().regex(/^[A-Z]{1,16}$/),
    headers: z.array(z.tuple([z.string().max(256), z.string().max(8192)])).max(100),
    body: z.string().nullable(),
  })
  .strict();

/** Parses the guest's request bytes (untrusted) into a fetch request. */
export function decodeFetchRequest(raw: Uint8Array): PythonFetchRequest {
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
export function encodeFetchResponse(res: PythonFetchResponse): Uint8Array {
  const head = Buffer.from(`${JSON.stringify({ url: res.url, status: res.status, headers: res.headers })}\n`);
  return Buffer.concat([head, Buffer.from(res.body.buffer, res.body.byteOffset, res.body.byteLength)]);
}

/** Encodes a refusal or failure; the guest raises shadowbox.FetchError(reason, message). */
export function encodeFetchError(e: unknown): Uint8Array {
  const reason = isShadowboxError(e) ? e.reason : 'net_fetch_failed';
  const message = e instanceof Error ? e.message : String(e);
  return Buffer.from(`${JSON.stringify({ error: reason, message })}\n`);
}
