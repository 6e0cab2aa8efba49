import type { BufferRead, ParamsOf, PermissionRequest, SessionEvent } from '@shadowbox/protocol';
import type { TransportKind } from '../transports/index.js';

/**
 * What a session needs of an attached client: who it is, what it declared in `initialize`, and the three
 * ways a session reaches it. The server implements it over the client's JSON-RPC connection, so sessions
 * never see a connection (and never import the server).
 */
export interface SessionClient {
  readonly id: string;
  /** clientInfo.name and .kind from `initialize`, shown to the other attached clients. */
  readonly name: string;
  readonly kind: string;
  readonly transport: TransportKind;
  /** Declared `permissions`: answers permission/request. */
  readonly canAnswerPermissions: boolean;
  readonly wantsEvents: boolean;
  /** Declared `buffers`: answers buffer/read with an editor buffer's text. */
  readonly canReadBuffers: boolean;
  /** Sends one session event; a client that is gone drops it. */
  sendEvent(event: SessionEvent): void;
  /** Asks one permission question; resolves with the raw answer (the caller validates it); rejects when the client goes away or `signal` aborts it. */
  askPermission(params: ParamsOf<typeof PermissionRequest>, signal: AbortSignal): Promise<unknown>;
  /** Asks for the text of an open editor buffer; the raw answer, validated by the caller. */
  readBuffer(params: ParamsOf<typeof BufferRead>, signal: AbortSignal): Promise<unknown>;
  /** Called once when the client's connection closes; returns an unsubscribe. */
  onClose(listener: () => void): () => void;
}
