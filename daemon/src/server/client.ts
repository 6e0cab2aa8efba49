import { type CancellationToken, CancellationTokenSource, type MessageConnection } from 'vscode-jsonrpc';
import { BufferRead, PermissionRequest, SessionEventNotification } from '@shadowbox/protocol';
import type { SessionClient } from '../sessions/index.js';

/** A connected, initialized client as the rest of the daemon sees it: what sessions need of it, plus its connection. */
export interface ClientHandle extends SessionClient {
  readonly connection: MessageConnection;
}

/** What `initialize` told about a client, and how to learn that its connection closed. */
export type ClientInit = Omit<SessionClient, 'sendEvent' | 'askPermission' | 'readBuffer'>;

/** A client handle over a JSON-RPC connection: session events as notifications, questions as cancellable requests. */
export function createClientHandle(connection: MessageConnection, init: ClientInit): ClientHandle {
  return {
    ...init,
    connection,
    sendEvent: (event) => void connection.sendNotification(SessionEventNotification.type, event).catch(() => undefined),
    askPermission: (params, signal) =>
      withSignal(signal, (token) => connection.sendRequest(PermissionRequest.type, params, token)),
    readBuffer: (params, signal) =>
      withSignal(signal, (token) => connection.sendRequest(BufferRead.type, params, token)),
  };
}

/** A request that `signal` cancels ($/cancelRequest at the client); the raw result, validated by the caller. */
function withSignal(signal: AbortSignal, send: (token: CancellationToken) => Promise<unknown>): Promise<unknown> {
  const source = new CancellationTokenSource();
  const onAbort = () => source.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  return send(source.token).finally(() => {
    signal.removeEventListener('abort', onAbort);
    source.dispose();
  });
}

/** Every initialized client of this daemon, for status and fan-out. */
export class ClientRegistry {
  private readonly clients = new Map<string, ClientHandle>();
  private counter = 0;

  nextId(): string {
    this.counter += 1;
    return `c${this.counter}`;
  }

  add(client: ClientHandle): void {
    this.clients.set(client.id, client);
  }

  remove(id: string): void {
    this.clients.delete(id);
  }

  get(id: string): ClientHandle | undefined {
    return this.clients.get(id);
  }

  list(): ClientHandle[] {
    return [...this.clients.values()];
  }
}
