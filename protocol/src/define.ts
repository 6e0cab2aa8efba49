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

/**
 * How many schemas the protocol has built so far (through {@link lazySchema} and the definitions' `params` and
 * `result`). A test reads it: importing the protocol builds none.
 */
export const schemaBuilds = { count: 0 };

/**
 * A schema built on its first use, then kept: `const Foo = lazySchema(() => z.object(…))`, used as `Foo()` and typed
 * as `z.infer<ReturnType<typeof Foo>>`. Every schema of the protocol is declared this way or inside a definition's
 * `params` / `result` thunk, so importing the protocol builds none: zod 4 builds a schema eagerly (each `.describe`,
 * `.optional`, `.min` makes an instance with its own methods), and building all of them was ~15 ms of every CLI
 * command's and the daemon's start, most of it for messages that process never sends or reads.
 */
export function lazySchema<T extends z.ZodType>(build: () => T): () => T {
  let built: T | undefined;
  return () => {
    if (built === undefined) {
      built = build();
      schemaBuilds.count++;
    }
    return built;
  };
}

/** Declare a request; params are always one named object (ParameterStructures.byName). Its schemas are built on first use. */
export function defineRequest<const M extends string, P extends z.ZodType, R extends z.ZodType>(def: {
  method: M;
  direction: MessageDirection;
  doc: string;
  params: () => P;
  result: () => R;
}): RequestDef<P, R> & { method: M } {
  const params = lazySchema(def.params);
  const result = lazySchema(def.result);
  return {
    kind: 'request',
    method: def.method,
    direction: def.direction,
    doc: def.doc,
    get params() {
      return params();
    },
    get result() {
      return result();
    },
    type: new RequestType<z.infer<P>, z.infer<R>, ErrorData>(def.method, ParameterStructures.byName),
  };
}

/** Declare a notification; params are always one named object. Its schema is built on first use. */
export function defineNotification<const M extends string, P extends z.ZodType>(def: {
  method: M;
  direction: MessageDirection;
  doc: string;
  params: () => P;
}): NotificationDef<P> & { method: M } {
  const params = lazySchema(def.params);
  return {
    kind: 'notification',
    method: def.method,
    direction: def.direction,
    doc: def.doc,
    get params() {
      return params();
    },
    type: new NotificationType<z.infer<P>>(def.method, ParameterStructures.byName),
  };
}

export type AnyRequestDef = RequestDef<z.ZodType, z.ZodType>;
export type AnyNotificationDef = NotificationDef<z.ZodType>;
export type ParamsOf<D> = D extends { params: infer P extends z.ZodType } ? z.infer<P> : never;
export type ResultOf<D> = D extends { result: infer R extends z.ZodType } ? z.infer<R> : never;
