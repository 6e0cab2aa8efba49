import type { MessageConnection } from 'vscode-jsonrpc';
import type { TransportKind } from '../transports/index.js';

/** A connected, initialized client as the rest of the daemon sees it. */
export interface ClientHandle {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly transport: TransportKind;
  readonly canAnswerPermissions: boolean;
  readonly wantsEvents: boolean;
  /** Declared `buffers` in initialize: answers buffer/read with an editor buffer's text. */
  readonly canReadBuffers: boolean;
  readonly connection: MessageConnection;
  /** Called once when the connection closes (disconnect, shutdown/exit, daemon stop); returns an unsubscribe. */
  onClose(listener: () => void): () => void;
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
