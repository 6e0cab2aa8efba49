import { ResponseError } from 'vscode-jsonrpc';
import type { z } from 'zod';
import { ErrorCodes, type ErrorData } from '@shadowbox/protocol';
import { isShadowboxError } from '../errors.js';

/** The one place an unknown failure becomes a JSON-RPC error: codes and reasons pass through, the rest is -32603. */
export function toResponseError(e: unknown): ResponseError<ErrorData> {
  if (e instanceof ResponseError) return e as ResponseError<ErrorData>;
  if (isShadowboxError(e)) return new ResponseError(e.code, e.message, e.data);
  const message = e instanceof Error ? e.message : String(e);
  return new ResponseError(ErrorCodes.InternalError, `internal error: ${message}`, { reason: 'internal' });
}

/** A zod failure as -32602 naming the first bad field (an unknown key by its own name), with every issue in data. */
export function invalidParams(method: string, error: z.ZodError): ResponseError<ErrorData> {
  const issues = error.issues.map((i) => ({
    path:
      [...i.path, ...(i.code === 'unrecognized_keys' ? i.keys.slice(0, 1) : [])].map(String).join('.') || '(params)',
    message: i.message,
    code: i.code,
  }));
  const first = issues[0];
  return new ResponseError(
    ErrorCodes.InvalidParams,
    `invalid params for ${method}: ${first ? `${first.path}: ${first.message}` : 'invalid'}`,
    {
      reason: 'invalid_params',
      field: first?.path,
      issues,
    },
  );
}
