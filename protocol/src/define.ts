import { NotificationType, ParameterStructures, RequestType } from 'vscode-jsonrpc';
import type { z } from 'zod';
import type { ErrorData } from './errors.js';

/** Who sends a message: the client (terminal, web page, editor) or the daemon. */
export type MessageDirection = 'clientToDaemon' | 'daemonToClient' | 'both';

/** A request declared once: method name, direction, doc, zod schemas and the typed vscode-jsonrpc handle. */
export interface RequestDef<P extends z.ZodType, R extends z.ZodType> {
  readonly kind: 'request';
  readonly method: string;
  readonly direction: MessageDirection;
  /** Who sends it and when; rendered into docs/protocol.md. */
  readonly doc: string;
  readonly params: P;
  readonly result: R;
  readonly type: RequestType<z.infer<P>, z.infer<R>, ErrorData>;
}

/** A notification declared once, like {@link RequestDef} without a result. */
export interface NotificationDef<P extends z.ZodType> {
  readonly kind: 'notification';
  readonly method: string;
  readonly direction: MessageDirection;
  readonly doc: string;
  readonly params: P;
  readonly type: NotificationType<z.infer<P>>;
}

/** Declare a request; params are always one named object (ParameterStructures.byName). */
export function defineRequest<const M extends string, P extends z.ZodType, R extends z.ZodType>(def: {
  method: M;
  direction: MessageDirection;
  doc: string;
  params: P;
  result: R;
}): RequestDef<P, R> & { method: M } {
  return {
    kind: 'request',
    ...def,
    type: new RequestType<z.infer<P>, z.infer<R>, ErrorData>(def.method, ParameterStructures.byName),
  };
}

/** Declare a notification; params are always one named object. */
export function defineNotification<const M extends string, P extends z.ZodType>(def: {
  method: M;
  direction: MessageDirection;
  doc: string;
  params: P;
}): NotificationDef<P> & { method: M } {
  return {
    kind: 'notification',
    ...def,
    type: new NotificationType<z.infer<P>>(def.method, ParameterStructures.byName),
  };
}

export type AnyRequestDef = RequestDef<z.ZodType, z.ZodType>;
export type AnyNotificationDef = NotificationDef<z.ZodType>;
export type ParamsOf<D> = D extends { params: infer P extends z.ZodType } ? z.infer<P> : never;
export type ResultOf<D> = D extends { result: infer R extends z.ZodType } ? z.infer<R> : never;
