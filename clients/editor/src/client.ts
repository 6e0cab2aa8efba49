import { type CancellationToken, CancellationTokenSource, type MessageConnection } from 'vscode-jsonrpc';
import {
  BufferRead,
  Initialize,
  Initialized,
  PermissionRequest,
  PROTOCOL_VERSION,
  SessionEventNotification,
  type AnyRequestDef,
  type ParamsOf,
  type ResultOf,
  type SessionEvent,
} from '@shadowbox/protocol';
import type { z } from 'zod';

/** Answers buffer/read: the editor buffer's text of a workspace-relative path, or null. */
export type BufferReadHandler = (
  params: ParamsOf<typeof BufferRead>,
  signal: AbortSignal,
) => Promise<ResultOf<typeof BufferRead>>;

export type PermissionHandler = (
  params: ParamsOf<typeof PermissionRequest>,
  signal: AbortSignal,
) => Promise<ResultOf<typeof PermissionRequest>>;

/**
 * A typed shadowbox client over any vscode-jsonrpc connection: request() takes a protocol
 * definition, so method names and payloads are checked at compile time; incoming events and
 * permission questions are validated with the protocol's zod schemas before handlers see them.
 */
export class ShadowboxClient {
  clientId = '';
  private readonly eventListeners = new Set<(e: SessionEvent) => void>();
  private permissionHandler: PermissionHandler | undefined;
  private bufferHandler: BufferReadHandler | undefined;
  private closeListeners = new Set<() => void>();
  closed = false;

  constructor(readonly connection: MessageConnection) {
    connection.onNotification(SessionEventNotification.method, (raw: unknown) => {
      const parsed = SessionEventNotification.params.safeParse(raw);
      if (!parsed.success) return;
      for (const l of this.eventListeners) l(parsed.data);
    });
    connection.onRequest(PermissionRequest.method, async (raw: unknown, token: CancellationToken) => {
      const parsed = PermissionRequest.params.safeParse(raw);
      if (!parsed.success || !this.permissionHandler) return { outcome: 'deny' };
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return this.permissionHandler(parsed.data, abort.signal);
    });
    connection.onRequest(BufferRead.method, async (raw: unknown, token: CancellationToken) => {
      const parsed = BufferRead.params.safeParse(raw);
      if (!parsed.success || !this.bufferHandler) return null;
      const abort = new AbortController();
      token.onCancellationRequested(() => abort.abort());
      return this.bufferHandler(parsed.data, abort.signal);
    });
    connection.onClose(() => {
      this.closed = true;
      for (const l of this.closeListeners) l();
    });
  }

  /** Sends initialize + initialized. */
  async initialize(
    clientInfo: {
      name: string;
      version?: string;
      kind?: 'terminal' | 'web' | 'editor' | 'acp' | 'cli' | 'test' | 'other';
    },
    capabilities: { permissions?: boolean; events?: boolean; buffers?: boolean } = {},
  ) {
    const result = await this.request(Initialize, {
      protocolVersion: PROTOCOL_VERSION,
      clientInfo: { kind: 'other', ...clientInfo },
      capabilities: {
        permissions: capabilities.permissions ?? false,
        events: capabilities.events ?? true,
        buffers: capabilities.buffers ?? false,
      },
    });
    this.clientId = result.clientId;
    await this.connection.sendNotification(Initialized.type, {});
    return result;
  }

  /** Typed request; `signal` cancels it with $/cancelRequest. */
  async request<D extends AnyRequestDef>(
    def: D,
    params: z.input<D['params']>,
    signal?: AbortSignal,
  ): Promise<ResultOf<D>> {
    const source = new CancellationTokenSource();
    signal?.addEventListener('abort', () => source.cancel(), { once: true });
    try {
      return await this.connection.sendRequest(def.method, params, source.token);
    } finally {
      source.dispose();
    }
  }

  onEvent(listener: (e: SessionEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Answers permission/request questions (declare `permissions: true` in initialize). */
  onPermission(handler: PermissionHandler): void {
    this.permissionHandler = handler;
  }

  /** Answers buffer/read requests (declare `buffers: true` in initialize). */
  onBufferRead(handler: BufferReadHandler): void {
    this.bufferHandler = handler;
  }

  onClose(listener: () => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  dispose(): void {
    this.connection.dispose();
  }
}
