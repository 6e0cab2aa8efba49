// The scripted model server: the project's only test double. A real local HTTP server that speaks the
// OpenAI Chat Completions and Anthropic Messages streaming wire formats, answering each request with
// the next scripted Reply. Node built-ins only, so anything (tests, `shadowbox demo`) can start it.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Reply, RequestInfo } from './types.js';
import { anthropicEvents, openaiEvents, type Sse } from './wire.js';

export type { Reply, RequestInfo, ScriptedToolCall } from './types.js';

export type WireFormat = 'openai' | 'anthropic';

/** One request as the server received it. */
export interface RecordedRequest {
  format: WireFormat;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body (the raw string when it is not JSON). */
  body: unknown;
  receivedAt: number;
  /** Set when the client closed the connection before the reply was complete (an abort). */
  clientClosedAt?: number;
}

export interface ModelServerOptions {
  /** Replies in order (more can be pushed later). */
  script?: Reply[];
  /** Called on every request; a returned Reply is used instead of the next queued one. */
  onRequest?: (req: RecordedRequest) => Reply | undefined | void;
  /** Defaults to 0 (an ephemeral port). */
  port?: number;
}

export interface ModelServer {
  /** `http://127.0.0.1:PORT`; the OpenAI base URL is `${url}/v1`, the Anthropic base URL is `url`. */
  url: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  push(...replies: Reply[]): void;
  /** Replies still queued. */
  pending(): number;
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1; one FIFO queue serves both wire formats. */
export async function startModelServer(opts: ModelServerOptions = {}): Promise<ModelServer> {
  const queue: Reply[] = [...(opts.script ?? [])];
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const ids = { n: 0 };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { error: { message: `model server: ${(e as Error)?.message ?? String(e)}` } });
      else res.destroy();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const path = (req.url ?? '/').split('?')[0];
    const format: WireFormat | null = path.endsWith('/chat/completions')
      ? 'openai'
      : path.endsWith('/messages')
        ? 'anthropic'
        : null;
    if (req.method !== 'POST' || !format) {
      sendJson(res, 404, { error: { message: `model server: no route ${req.method} ${path}` } });
      return;
    }
    let body: unknown = raw;
    try {
      body = JSON.parse(raw) as unknown;
    } catch {
      // kept as the raw string
    }
    const rec: RecordedRequest = {
      format,
      method: req.method,
      path,
      headers: req.headers,
      body,
      receivedAt: Date.now(),
    };
    requests.push(rec);
    res.on('close', () => {
      if (!res.writableFinished) rec.clientClosedAt = Date.now();
    });
    const reply = opts.onRequest?.(rec) ?? queue.shift();
    if (!reply) {
      const message = `model server: script exhausted (no scripted reply left for request #${requests.length}, ${path})`;
      // x-should-retry: false keeps SDKs from retrying this 500, so the test fails on the first miss.
      sendJson(res, 500, errorBody(format, 500, message), { 'x-should-retry': 'false' });
      return;
    }
    if (reply.error) {
      const headers: Record<string, string> =
        reply.error.retryAfter !== undefined ? { 'retry-after': String(reply.error.retryAfter) } : {};
      sendJson(
        res,
        reply.error.status,
        reply.error.body ?? errorBody(format, reply.error.status, `scripted error ${reply.error.status}`),
        headers,
      );
      return;
    }
    if (reply.dropAfterChunks === 0) {
      req.socket.destroy();
      return;
    }
    if (reply.stallBeforeHeaders) return; // the client (or close()) ends it
    const r = requestInfo(body, raw.length);
    const events = format === 'openai' ? openaiEvents(reply, r, ids) : anthropicEvents(reply, r, ids);
    await stream(res, reply, events, format);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    push: (...replies) => void queue.push(...replies),
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Writes the events (honouring delay, drop, hold and hang); stops as soon as the client goes away. */
async function stream(res: ServerResponse, reply: Reply, events: Sse, format: WireFormat): Promise<void> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  res.flushHeaders();
  const all = reply.hang ? events.content : [...events.content, ...events.tail];
  if (reply.malformedAfterChunks !== undefined)
    all.splice(
      reply.malformedAfterChunks,
      0,
      format === 'openai'
        ? `data: {"choices": [{"delta": {"content": "cut\n\n`
        : `event: content_block_delta\ndata: {"type": "content_block_delta", "index": 0, "delta": {"text": "cut\n\n`,
    );
  for (let i = 0; i < all.length; i++) {
    if (reply.stallAfterChunks !== undefined && i >= reply.stallAfterChunks) return; // never ends
    if (res.destroyed) return;
    if (reply.dropAfterChunks !== undefined && i >= reply.dropAfterChunks) {
      await drop(res);
      return;
    }
    if (i > 0 && reply.delayMs) await sleep(reply.delayMs);
    if (i === events.content.length && reply.holdUntil) await Promise.resolve(reply.holdUntil).catch(() => undefined);
    if (res.destroyed) return;
    res.write(all[i]);
  }
  if (reply.dropAfterChunks !== undefined && all.length <= reply.dropAfterChunks && !reply.hang) {
    // Asked to drop after more events than there are: drop before the end of the response instead.
    await drop(res);
    return;
  }
  if (reply.hang) return; // the client (or close()) ends it
  res.end();
}

/** Cuts the connection once what was written has reached the socket (so the client sees it, then the cut). */
async function drop(res: ServerResponse): Promise<void> {
  await new Promise<void>((resolve) => res.write('', () => resolve()));
  res.socket?.destroy();
}

function requestInfo(body: unknown, bytes: number): RequestInfo {
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const so = (typeof b.stream_options === 'object' && b.stream_options !== null ? b.stream_options : {}) as Record<
    string,
    unknown
  >;
  return {
    model: typeof b.model === 'string' ? b.model : 'scripted',
    includeUsage: so.include_usage === true,
    requestBytes: bytes,
  };
}

/** The error body each API sends for a status. */
function errorBody(format: WireFormat, status: number, message: string): unknown {
  const type =
    status === 401
      ? 'authentication_error'
      : status === 403
        ? 'permission_error'
        : status === 404
          ? 'not_found_error'
          : status === 429
            ? 'rate_limit_error'
            : status === 529
              ? 'overloaded_error'
              : status >= 500
                ? 'api_error'
                : 'invalid_request_error';
  if (format === 'anthropic') return { type: 'error', error: { type, message } };
  return {
    error: {
      message,
      type,
      param: null,
      code: status === 401 ? 'invalid_api_key' : status === 429 ? 'rate_limit_exceeded' : null,
    },
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
