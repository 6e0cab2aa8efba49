import { ErrorCodes, type ErrorCode, type ErrorData } from '@shadowbox/protocol';

export { ErrorCodes };

/**
 * The one exceptional-failure type inside the daemon: a stable JSON-RPC code, a stable
 * `data.reason`, a human message, and the original error as `cause`. The transport edge maps
 * it to a JSON-RPC error unchanged; the audit log stores `code` and `reason`, never `message`.
 */
export class ShadowboxError extends Error {
  readonly code: ErrorCode;
  readonly data: ErrorData;

  constructor(
    code: ErrorCode,
    reason: string,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ShadowboxError';
    this.code = code;
    this.data = { reason, ...details };
  }

  get reason(): string {
    return this.data.reason;
  }
}

/** Narrow an unknown thrown value to a ShadowboxError with the given code (and reason). */
export function isShadowboxError(e: unknown, code?: ErrorCode, reason?: string): e is ShadowboxError {
  return (
    e instanceof ShadowboxError &&
    (code === undefined || e.code === code) &&
    (reason === undefined || e.data.reason === reason)
  );
}
