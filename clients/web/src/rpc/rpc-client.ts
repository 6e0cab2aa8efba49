import {
  ErrorCodes,
  type AnyNotificationDef,
  type AnyRequestDef,
  type ErrorData,
  type ResultOf,
} from '@shadowbox/protocol';
import {
  AbstractMessageReader,
  AbstractMessageWriter,
  type CancellationToken,
  CancellationTokenSource,
  createMessageConnection,
  Emitter,
  ResponseError,
  type DataCallback,
  type Disposable,
  type Message,
  type MessageConnection,
} from 'vscode-jsonrpc';
import type { z } from 'zod';

// The JSON-RPC machinery (ids, pending requests, $/cancelRequest both ways, unknown methods) is
// vscode-jsonrpc's, the same library the daemon and the other clients use. This file only adapts it to a
// WebSocket (one message per text frame) and to the page's error types. vscode-jsonrpc needs its runtime
// layer installed first: the page's entry imports 'vscode-jsonrpc/browser', tests 'vscode-jsonrpc/node'.

/** What the client needs from a WebSocket: one JSON-RPC message per text frame, like the daemon's websocket-stream. */
export interface WireSocket {
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

/** A JSON-RPC error answer: `code` and `data.reason` are what callers branch on, never the message. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: ErrorData,
  ) {
    super(message);
    this.name = 'RpcError';
  }

  get reason(): string | undefined {
    return this.data?.reason;
  }
}

/** The link closed before the answer came; the caller may retry after reconnecting. */
export class ConnectionClosedError extends Error {
  constructor() {
    super('the connection to the daemon closed');
    this.name = 'ConnectionClosedError';
  }
}

type IncomingHandler = (params: unknown, signal: AbortSignal) => unknown;
type NotificationHandler = (params: unknown) => void;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Received text frames in; malformed frames are dropped (the daemon never sends them). */
class FrameReader extends AbstractMessageReader {
  private readonly onData = new Emitter<Message>();

  listen(callback: DataCallback): Disposable {
    return this.onData.event(callback);
  }

  receive(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (isObject(msg)) this.onData.fire(msg as unknown as Message);
  }

  closed(): void {
    this.fireClose();
  }
}

/** Messages out, one text frame each. */
class FrameWriter extends AbstractMessageWriter {
  constructor(private readonly socket: WireSocket) {
    super();
  }

  async write(msg: Message): Promise<void> {
    this.socket.send(JSON.stringify(msg));
  }

  end(): void {}
}

/**
 * The page's JSON-RPC peer over one WebSocket: typed requests from protocol definitions, incoming
 * notifications and requests (permission/request) whose AbortSignal fires on the daemon's $/cancelRequest,
 * and errors as RpcError / ConnectionClosedError.
 */
export class RpcClient {
  private readonly reader = new FrameReader();
  private readonly connection: MessageConnection;
  private readonly notificationHandlers = new Map<string, Set<NotificationHandler>>();
  private closed = false;
  private pending = 0;

  constructor(private readonly socket: WireSocket) {
    this.connection = createMessageConnection(this.reader, new FrameWriter(socket));
    this.connection.onClose(() => (this.closed = true));
    this.connection.listen();
  }

  /** Sends a typed request; aborting `signal` sends $/cancelRequest (the daemon answers -32800). */
  async request<D extends AnyRequestDef>(
    def: D,
    params: z.input<D['params']>,
    signal?: AbortSignal,
  ): Promise<ResultOf<D>> {
    if (this.closed) throw new ConnectionClosedError();
    const source = new CancellationTokenSource();
    const onAbort = () => source.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    this.pending++;
    try {
      const result: unknown = await this.connection.sendRequest(def.method, params, source.token);
      return result as ResultOf<D>;
    } catch (e) {
      throw this.closed || !(e instanceof ResponseError) ? new ConnectionClosedError() : toRpcError(e);
    } finally {
      this.pending--;
      signal?.removeEventListener('abort', onAbort);
      source.dispose();
    }
  }

  /** Sends a notification. */
  notify<D extends AnyNotificationDef>(def: D, params: z.input<D['params']>): void {
    if (!this.closed) void this.connection.sendNotification(def.method, params).catch(() => undefined);
  }

  /** Listens to a notification method; returns an unsubscribe function. */
  onNotification(method: string, handler: NotificationHandler): () => void {
    let set = this.notificationHandlers.get(method);
    if (!set) {
      const handlers = (set = new Set());
      this.notificationHandlers.set(method, handlers);
      this.connection.onNotification(method, (params: unknown) => {
        for (const h of handlers) h(params);
      });
    }
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Answers an incoming request method; the signal aborts when the daemon sends $/cancelRequest. */
  onRequest(method: string, handler: IncomingHandler): void {
    this.connection.onRequest(method, async (params: unknown, token: CancellationToken) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      try {
        const result = await handler(params, abort.signal);
        if (abort.signal.aborted) throw cancelled();
        return result ?? null;
      } catch (e) {
        if (abort.signal.aborted) throw cancelled();
        if (e instanceof RpcError) throw new ResponseError(e.code, e.message, e.data);
        throw new ResponseError(ErrorCodes.InternalError, (e as Error)?.message ?? String(e), { reason: 'internal' });
      } finally {
        sub.dispose();
      }
    });
  }

  /** Feeds one received text frame. */
  receive(text: string): void {
    this.reader.receive(text);
  }

  /** The socket closed: every pending call fails with ConnectionClosedError, incoming requests are cancelled. */
  handleClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.reader.closed();
    this.connection.dispose();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Requests sent and not yet answered. */
  get pendingCount(): number {
    return this.pending;
  }

  close(): void {
    this.socket.close(1000, 'bye');
    this.handleClose();
  }
}

function toRpcError(e: ResponseError<unknown>): RpcError {
  return new RpcError(e.code, e.message, isObject(e.data) ? (e.data as ErrorData) : undefined);
}

function cancelled(): ResponseError<ErrorData> {
  return new ResponseError(ErrorCodes.RequestCancelled, 'cancelled', { reason: 'cancelled' });
}
