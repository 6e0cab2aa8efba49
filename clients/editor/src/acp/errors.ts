import { RequestError } from '@agentclientprotocol/sdk';
import { ErrorCodes } from '@shadowbox/protocol';
import { ResponseError } from 'vscode-jsonrpc';

/**
 * Maps a failed daemon call to the JSON-RPC error the editor gets: the daemon's code, message and
 * `data.reason` pass through (the SDK would otherwise flatten every throw to -32603); an unknown
 * session, or one this connection is not attached to, becomes ACP's "resource not found" (-32002
 * with `data.sessionId`), which editors know.
 */
export function toRequestError(e: unknown, sessionId?: string): RequestError {
  if (e instanceof RequestError) return e;
  if (e instanceof ResponseError) {
    const data = (e.data && typeof e.data === 'object' ? e.data : {}) as Record<string, unknown>;
    if (e.code === ErrorCodes.SessionNotFound || e.code === ErrorCodes.NotAttached)
      return new RequestError(-32002, `Resource not found: ${e.message}`, {
        ...data,
        ...(sessionId ? { sessionId } : {}),
      });
    return new RequestError(e.code, e.message, data);
  }
  return RequestError.internalError({ details: e instanceof Error ? e.message : String(e) });
}

/** Runs one daemon call for an ACP handler, turning its failure into an ACP error. */
export async function relay<T>(call: Promise<T>, sessionId?: string): Promise<T> {
  try {
    return await call;
  } catch (e) {
    throw toRequestError(e, sessionId);
  }
}
