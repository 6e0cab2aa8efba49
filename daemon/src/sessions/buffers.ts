import { BUFFER_READ_TIMEOUT_MS, BufferRead } from '@shadowbox/protocol';
import type { SessionClient } from './client-port.js';
import type { Logger } from '../state/index.js';

export { BUFFER_READ_TIMEOUT_MS };

/**
 * Asks a client (a session's driver) for the text of its open editor buffer of a workspace-relative
 * path: null when the client cannot answer buffer/read, has no buffer for it, answers badly or not
 * within `timeoutMs` (the request is then cancelled). Never throws: the caller reads the saved file.
 */
export async function readClientBuffer(
  client: SessionClient | undefined,
  sessionId: string,
  rel: string,
  logger: Logger,
  timeoutMs = BUFFER_READ_TIMEOUT_MS,
): Promise<string | null> {
  if (!client?.canReadBuffers) return null;
  const source = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  const started = performance.now();
  try {
    const raw = await Promise.race([
      client.readBuffer({ sessionId, path: rel }, source.signal).then((r: unknown) => ({ r })),
      timedOut,
    ]);
    if (raw === 'timeout') {
      source.abort();
      logger.debug(`buffer/read ${rel}: no answer from ${client.id} within ${timeoutMs} ms; reading the saved file`);
      return null;
    }
    const parsed = BufferRead.result.safeParse(raw.r);
    if (!parsed.success) {
      logger.warn(`buffer/read ${rel}: ${client.id} answered with an invalid result; reading the saved file`);
      return null;
    }
    logger.debug(
      `buffer/read ${rel}: ${parsed.data ? 'buffer' : 'no buffer'} from ${client.id} in ${(performance.now() - started).toFixed(1)} ms`,
    );
    return parsed.data?.text ?? null;
  } catch (e) {
    logger.debug(
      `buffer/read ${rel}: ${client.id} failed (${(e as Error)?.message ?? String(e)}); reading the saved file`,
    );
    return null;
  } finally {
    clearTimeout(timer);
  }
}
