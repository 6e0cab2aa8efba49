import {
  type CancellationToken,
  createMessageConnection,
  ResponseError,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import {
  ErrorCodes,
  Initialize,
  PROTOCOL_VERSION,
  type AnyRequestDef,
  type ParamsOf,
  type ResultOf,
} from '@shadowbox/protocol';
import type { Channel } from '../transports/index.js';
import { diskFullError, isDiskFull, type Logger } from '../state/index.js';
import { isShadowboxError } from '../errors.js';
import { createClientHandle, type ClientHandle, type ClientRegistry } from './client.js';
import { invalidParams, toResponseError } from './errors.js';

/** What a request handler receives besides its validated params. */
export interface HandlerContext {
  client: ClientHandle;
  token: CancellationToken;
}

export type Handler<D extends AnyRequestDef> = (
  params: ParamsOf<D>,
  ctx: HandlerContext,
) => Promise<ResultOf<D>> | ResultOf<D>;
type NotificationHandler = (params: unknown, client: ClientHandle) => void;

/** Request handlers by method; capabilities register theirs, the connection layer dispatches. */
export class HandlerTable {
  readonly requests = new Map<string, { def: AnyRequestDef; fn: Handler<AnyRequestDef> }>();
  readonly notifications = new Map<string, NotificationHandler>();

  /** Registers the handler of one declared request. */
  on<D extends AnyRequestDef>(def: D, fn: Handler<D>): this {
    this.requests.set(def.method, { def, fn: fn });
    return this;
  }

  onNotification(method: string, fn: NotificationHandler): this {
    this.notifications.set(method, fn);
    return this;
  }
}

export interface ConnectionDeps {
  handlers: HandlerTable;
  clients: ClientRegistry;
  logger: Logger;
  version: string;
  capabilities: ResultOf<typeof Initialize>['capabilities'];
  /** Called when a client sends `exit` (the stdio daemon stops then). */
  onExit?: (client: ClientHandle | undefined) => void;
}

/**
 * Turns a channel into a JSON-RPC connection: answers bad frames with typed errors, refuses
 * everything before `initialize`, validates params with the protocol's zod schemas, maps
 * failures to JSON-RPC errors, and releases all the client held when the link goes away.
 */
export function serveChannel(channel: Channel, deps: ConnectionDeps): MessageConnection {
  const { handlers, clients, logger } = deps;
  const connection = createMessageConnection(channel.reader, channel.writer, {
    error: (m) => logger.error(`rpc: ${m}`),
    warn: (m) => logger.warn(`rpc: ${m}`),
    info: (m) => logger.debug(`rpc: ${m}`),
    log: (m) => logger.debug(`rpc: ${m}`),
  });
  let client: ClientHandle | undefined;
  const closeListeners: Array<() => void> = [];
  let closed = false;

  channel.setBadMessageHandler((bad) => {
    logger.warn(`${channel.transport}: ${bad.reason}: ${bad.message}`);
    void channel.writer
      .write({
        jsonrpc: '2.0',
        id: bad.id ?? null,
        error: { code: bad.code, message: bad.message, data: { reason: bad.reason } },
      } as never)
      .catch(() => undefined)
      .finally(() => bad.fatal && channel.close());
  });

  connection.onRequest(async (method: string, rawParams: unknown, token: CancellationToken) => {
    try {
      if (method === Initialize.method) return await initialize(rawParams);
      const entry = handlers.requests.get(method);
      if (!entry)
        throw new ResponseError(ErrorCodes.MethodNotFound, `unknown method ${method}`, {
          reason: 'method_not_found',
          method,
        });
      if (!client)
        throw new ResponseError(ErrorCodes.ServerNotInitialized, `${method} before initialize`, {
          reason: 'not_initialized',
        });
      const parsed = entry.def.params.safeParse(rawParams ?? {});
      if (!parsed.success) throw invalidParams(method, parsed.error);
      return await entry.fn(parsed.data, { client, token });
    } catch (thrown) {
      // A raw ENOSPC/EDQUOT from any capability reaches the client typed (-33900 with path and free space).
      const e =
        isDiskFull(thrown) && !isShadowboxError(thrown) ? await diskFullError(errnoPath(thrown), thrown) : thrown;
      const err = toResponseError(e);
      if (err.code === ErrorCodes.InternalError) logger.error(`${method}: ${(e as Error)?.stack ?? String(e)}`);
      throw err;
    }
  });

  connection.onNotification((method: string, params: unknown) => {
    if (method === 'exit') {
      deps.onExit?.(client);
      channel.close();
      return;
    }
    if (!client) return;
    const fn = handlers.notifications.get(method);
    if (fn) {
      try {
        fn(params, client);
      } catch (e) {
        logger.warn(`notification ${method}: ${(e as Error).message}`);
      }
    }
  });

  connection.onClose(() => {
    if (closed) return;
    closed = true;
    if (client) clients.remove(client.id);
    for (const l of closeListeners.splice(0)) {
      try {
        l();
      } catch (e) {
        logger.warn(`close listener: ${(e as Error).message}`);
      }
    }
    connection.dispose();
  });
  connection.onError(([e]) => logger.debug(`${channel.transport} connection error: ${e.message}`));

  async function initialize(rawParams: unknown): Promise<ResultOf<typeof Initialize>> {
    if (client)
      throw new ResponseError(ErrorCodes.AlreadyInitialized, 'initialize was already sent on this connection', {
        reason: 'already_initialized',
      });
    const parsed = Initialize.params.safeParse(rawParams ?? {});
    if (!parsed.success) throw invalidParams(Initialize.method, parsed.error);
    const p = parsed.data;
    const id = clients.nextId();
    client = createClientHandle(connection, {
      id,
      name: p.clientInfo.name,
      kind: p.clientInfo.kind,
      transport: channel.transport,
      canAnswerPermissions: p.capabilities.permissions,
      wantsEvents: p.capabilities.events,
      canReadBuffers: p.capabilities.buffers,
      onClose: (l) => {
        if (closed) {
          l();
          return () => undefined;
        }
        closeListeners.push(l);
        return () => {
          const i = closeListeners.indexOf(l);
          if (i >= 0) closeListeners.splice(i, 1);
        };
      },
    });
    clients.add(client);
    logger.info(`client ${id} (${p.clientInfo.name}, ${channel.transport}) initialized`);
    return {
      protocolVersion: Math.min(p.protocolVersion, PROTOCOL_VERSION),
      daemonInfo: { name: 'shadowbox', version: deps.version, pid: process.pid },
      clientId: id,
      capabilities: deps.capabilities,
    };
  }

  connection.listen();
  return connection;
}

/** The path a Node system error names, else the state dir is unknown here: "(unknown)". */
function errnoPath(e: unknown): string {
  const p = (e as NodeJS.ErrnoException).path;
  return typeof p === 'string' ? p : '(unknown)';
}
