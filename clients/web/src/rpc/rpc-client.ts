import type { AnyNotificationDef, AnyRequestDef, ErrorData, ResultOf } from '@shadowbox/protocol';
import type { z } from 'zod';

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

interface PendingCall {
  resolve: (value: unknown) => void;
  reject: (e: Error) => void;
}

const REQUEST_CANCELLED = -32800;
const METHOD_NOT_FOUND = -32601;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A small JSON-RPC 2.0 peer for the browser: typed requests from protocol definitions, incoming
 * notifications and requests (permission/request), and `$/cancelRequest` both ways. Framing is
 * one message per WebSocket text frame, exactly what the daemon's WebSocketMessageReader expects.
 */
export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();
  private readonly notificationHandlers = new Map<string, Set<NotificationHandler>>();
  private readonly requestHandlers = new Map<string, IncomingHandler>();
  private readonly incoming = new Map<string | number, AbortController>();
  private closed = false;

  constructor(private readonly socket: WireSocket) {}

  /** Sends a typed request; aborting `signal` sends $/cancelRequest (the daemon answers -32800). */
  request<D extends AnyRequestDef>(def: D, params: z.input<D['params']>, signal?: AbortSignal): Promise<ResultOf<D>> {
    if (this.closed) return Promise.reject(new ConnectionClosedError());
    const id = this.nextId++;
    return new Promise<ResultOf<D>>((resolve, reject) => {
      const onAbort = () => this.write({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id } });
      this.pending.set(id, {
        resolve: (v) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(v as ResultOf<D>);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      this.write({ jsonrpc: '2.0', id, method: def.method, params });
    });
  }

  /** Sends a notification. */
  notify<D extends AnyNotificationDef>(def: D, params: z.input<D['params']>): void {
    if (!this.closed) this.write({ jsonrpc: '2.0', method: def.method, params });
  }

  /** Listens to a notification method; returns an unsubscribe function. */
  onNotification(method: string, handler: NotificationHandler): () => void {
    let set = this.notificationHandlers.get(method);
    if (!set) this.notificationHandlers.set(method, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Answers an incoming request method; the signal aborts when the daemon sends $/cancelRequest. */
  onRequest(method: string, handler: IncomingHandler): void {
    this.requestHandlers.set(method, handler);
  }

  /** Feeds one received text frame. Malformed frames are ignored (the daemon never sends them). */
  receive(text: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (!isObject(msg)) return;
    if (typeof msg.method === 'string') {
      if (msg.id === undefined || msg.id === null) this.dispatchNotification(msg.method, msg.params);
      else if (typeof msg.id === 'number' || typeof msg.id === 'string')
        void this.dispatchRequest(msg.id, msg.method, msg.params);
      return;
    }
    if (typeof msg.id !== 'number') return;
    const call = this.pending.get(msg.id);
    if (!call) return;
    this.pending.delete(msg.id);
    if (isObject(msg.error)) {
      const e = msg.error;
      call.reject(
        new RpcError(
          typeof e.code === 'number' ? e.code : -32603,
          typeof e.message === 'string' ? e.message : 'error',
          isObject(e.data) ? (e.data as ErrorData) : undefined,
        ),
      );
    } else call.resolve(msg.result);
  }

  /** The socket closed: every pending call fails, incoming requests are aborted. */
  handleClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const call of this.pending.values()) call.reject(new ConnectionClosedError());
    this.pending.clear();
    for (const a of this.incoming.values()) a.abort();
    this.incoming.clear();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  close(): void {
    this.socket.close(1000, 'bye');
    this.handleClose();
  }

  private dispatchNotification(method: string, params: unknown): void {
    if (method === '$/cancelRequest') {
      const id = isObject(params) ? params.id : undefined;
      if (typeof id === 'number' || typeof id === 'string') this.incoming.get(id)?.abort();
      return;
    }
    for (const h of this.notificationHandlers.get(method) ?? []) h(params);
  }

  private async dispatchRequest(id: string | number, method: string, params: unknown): Promise<void> {
    const handler = this.requestHandlers.get(method);
    if (!handler) {
      this.write({
        jsonrpc: '2.0',
        id,
        error: {
          code: METHOD_NOT_FOUND,
          message: `the web client does not handle ${method}`,
          data: { reason: 'method_not_found' },
        },
      });
      return;
    }
    const abort = new AbortController();
    this.incoming.set(id, abort);
    try {
      const result = await handler(params, abort.signal);
      if (abort.signal.aborted)
        this.write({
          jsonrpc: '2.0',
          id,
          error: { code: REQUEST_CANCELLED, message: 'cancelled', data: { reason: 'cancelled' } },
        });
      else this.write({ jsonrpc: '2.0', id, result: result ?? null });
    } catch (e) {
      const err =
        e instanceof RpcError
          ? e
          : new RpcError(abort.signal.aborted ? REQUEST_CANCELLED : -32603, (e as Error)?.message ?? String(e), {
              reason: abort.signal.aborted ? 'cancelled' : 'client_error',
            });
      this.write({ jsonrpc: '2.0', id, error: { code: err.code, message: err.message, data: err.data } });
    } finally {
      this.incoming.delete(id);
    }
  }

  private write(msg: object): void {
    if (this.closed) return;
    this.socket.send(JSON.stringify(msg));
  }
}
