import { ErrorCodes, type ErrorCode, type ErrorCodeName, type ErrorData, type ErrorReason } from '@shadowbox/protocol';

export { ErrorCodes };

/** The declared reasons of the error code named `K`, e.g. `ReasonOf<'PathOutsideWorkspace'>`. */
export type ReasonOf<K extends ErrorCodeName> = ErrorReason<(typeof ErrorCodes)[K]>;

/**
 * The one exceptional-failure type inside the daemon: a stable JSON-RPC code, a stable
 * `data.reason`, a human message, and the original error as `cause`. The transport edge maps
 * it to a JSON-RPC error unchanged; the audit log stores `code` and `reason`, never `message`.
 */
export class ShadowboxError<C extends ErrorCode = ErrorCode> extends Error {
  readonly code: C;
  readonly data: ErrorData;

  /** `reason` must be one protocol declares for `code` (protocol/src/error-reasons.ts). */
  constructor(
    code: C,
    reason: ErrorReason<C>,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ShadowboxError';
    this.code = code;
    this.data = { reason, ...details };
  }

  /** The reason given to the constructor (one protocol declares for `code`). */
  get reason(): ErrorReason<C> {
    return this.data.reason as ErrorReason<C>;
  }
}

/** Narrow an unknown thrown value to a ShadowboxError with the given code (and reason). */
export function isShadowboxError<C extends ErrorCode>(
  e: unknown,
  code?: C,
  reason?: ErrorReason<C>,
): e is ShadowboxError<C> {
  return (
    e instanceof ShadowboxError &&
    (code === undefined || e.code === code) &&
    (reason === undefined || e.data.reason === reason)
  );
}
