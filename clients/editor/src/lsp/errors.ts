import type { ErrorCodes, ErrorReason } from '@shadowbox/protocol';
import { ResponseError } from 'vscode-languageserver';

type Code = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * A refused command as the editor receives it: a shadowbox code, `data.reason` (declared for that code in
 * protocol/src/error-reasons.ts, so the compiler holds the server to the catalog) and one sentence.
 */
export function refusal<C extends Code>(
  code: C,
  reason: ErrorReason<C>,
  message: string,
  data: Record<string, unknown> = {},
): ResponseError<unknown> {
  return new ResponseError(code, message, { reason, ...data });
}

/** The sentence of a failure, whatever threw it (a daemon ResponseError keeps its message). */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
