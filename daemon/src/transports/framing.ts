import type { Readable } from 'node:stream';
import { AbstractMessageReader, type DataCallback, type Disposable, type Message } from 'vscode-jsonrpc';
import { ErrorCodes } from '@shadowbox/protocol';

/** A problem with one incoming message that the connection answers with a JSON-RPC error (id null unless known). */
export interface BadMessage {
  code: number;
  reason: 'parse_error' | 'message_too_large' | 'invalid_request' | 'malformed_header';
  message: string;
  id?: number | string | null;
  /** True when the framing is lost and the connection must close after answering. */
  fatal: boolean;
}

const MAX_HEADER_BYTES = 8 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Reads LSP-framed (Content-Length) JSON-RPC messages with a size cap. Unlike vscode-jsonrpc's
 * stream reader it refuses an oversized message from its header and skips its body without
 * buffering it, answers unparsable JSON with a parse error while keeping the connection, and
 * reports lost framing (a malformed header) as fatal so only this connection closes.
 */
export class CappedFramedReader extends AbstractMessageReader {
  private header = Buffer.alloc(0);
  private body: Buffer[] = [];
  private bodyLength = 0;
  private expected = -1;
  private skipping = 0;
  private dead = false;

  constructor(
    private readonly readable: Readable,
    private readonly maxBytes: number,
    private readonly onBad: (bad: BadMessage) => void,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    const onData = (chunk: Buffer) => this.onData(chunk, callback);
    const onEnd = () => this.fireClose();
    const onError = (e: Error) => this.fireError(e);
    this.readable.on('data', onData);
    this.readable.on('end', onEnd);
    this.readable.on('close', onEnd);
    this.readable.on('error', onError);
    return {
      dispose: () => {
        this.readable.off('data', onData);
        this.readable.off('end', onEnd);
        this.readable.off('close', onEnd);
        this.readable.off('error', onError);
      },
    };
  }

  private onData(chunk: Buffer, callback: DataCallback): void {
    let data = chunk;
    while (data.length > 0 && !this.dead) {
      if (this.skipping > 0) {
        const n = Math.min(this.skipping, data.length);
        this.skipping -= n;
        data = data.subarray(n);
        continue;
      }
      if (this.expected < 0) {
        data = this.readHeader(data);
        continue;
      }
      const need = this.expected - this.bodyLength;
      const part = data.subarray(0, need);
      this.body.push(part);
      this.bodyLength += part.length;
      data = data.subarray(part.length);
      if (this.bodyLength === this.expected) {
        const text = Buffer.concat(this.body, this.bodyLength).toString('utf8');
        this.body = [];
        this.bodyLength = 0;
        this.expected = -1;
        this.deliver(text, callback);
      }
    }
  }

  /** Consumes header bytes; returns the rest of the chunk after the header (or empty when incomplete). */
  private readHeader(data: Buffer): Buffer {
    const joined = this.header.length ? Buffer.concat([this.header, data]) : data;
    const end = joined.indexOf(HEADER_END);
    if (end < 0) {
      if (joined.length > MAX_HEADER_BYTES) this.fatal('header longer than 8 KiB without a blank line');
      else this.header = Buffer.from(joined);
      return Buffer.alloc(0);
    }
    const headerText = joined.subarray(0, end).toString('ascii');
    const rest = joined.subarray(end + HEADER_END.length);
    this.header = Buffer.alloc(0);
    let length: number | undefined;
    for (const line of headerText.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0)
        return (this.fatal(`malformed header line ${JSON.stringify(line.slice(0, 80))}`), Buffer.alloc(0));
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value))
          return (this.fatal(`bad Content-Length ${JSON.stringify(value.slice(0, 40))}`), Buffer.alloc(0));
        length = Number(value);
      }
    }
    if (length === undefined) return (this.fatal('missing Content-Length header'), Buffer.alloc(0));
    if (length > this.maxBytes) {
      this.skipping = length;
      this.onBad({
        code: ErrorCodes.MessageTooLarge,
        reason: 'message_too_large',
        message: `message of ${length} bytes exceeds the ${this.maxBytes}-byte limit; it was skipped unread`,
        id: null,
        fatal: false,
      });
      return rest;
    }
    this.expected = length;
    if (length === 0) {
      this.expected = -1;
      this.deliver('', () => undefined);
    }
    return rest;
  }

  private deliver(text: string, callback: DataCallback): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      this.onBad({
        code: ErrorCodes.ParseError,
        reason: 'parse_error',
        message: `invalid JSON: ${(e as Error).message}`,
        id: null,
        fatal: false,
      });
      return;
    }
    const checked = checkMessage(value);
    if (typeof checked === 'string') {
      this.onBad({
        code: ErrorCodes.InvalidRequest,
        reason: 'invalid_request',
        message: checked,
        id: idOf(value),
        fatal: false,
      });
      return;
    }
    callback(checked);
  }

  private fatal(message: string): void {
    this.dead = true;
    this.onBad({
      code: ErrorCodes.ParseError,
      reason: 'malformed_header',
      message: `${message}; closing the connection`,
      id: null,
      fatal: true,
    });
  }
}

function idOf(value: unknown): number | string | null {
  if (value && typeof value === 'object' && 'id' in value) {
    const id = value.id;
    if (typeof id === 'number' || typeof id === 'string') return id;
  }
  return null;
}

/** Structural check of a JSON-RPC 2.0 message; returns the message or why it is not one. */
export function checkMessage(value: unknown): Message | string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return Array.isArray(value) ? 'batch requests are not supported' : 'a JSON-RPC message must be an object';
  }
  const m = value as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  if ('method' in m) {
    if (typeof m.method !== 'string' || m.method.length === 0) return 'method must be a non-empty string';
    if ('id' in m && m.id !== null && typeof m.id !== 'number' && typeof m.id !== 'string')
      return 'id must be a number or a string';
    if ('params' in m && (m.params === null || typeof m.params !== 'object'))
      return 'params must be an object or an array';
    return m as unknown as Message;
  }
  if ('id' in m && ('result' in m || 'error' in m)) return m as unknown as Message;
  return 'not a request, notification or response';
}
