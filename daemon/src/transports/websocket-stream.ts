import type { WebSocket } from 'ws';
import {
  AbstractMessageReader,
  AbstractMessageWriter,
  type DataCallback,
  type Disposable,
  type Message,
  type MessageWriter,
} from 'vscode-jsonrpc';
import { ErrorCodes } from '@shadowbox/protocol';
import { checkMessage, type BadMessage } from './framing.js';

/** Reads one JSON-RPC message per WebSocket text frame (ws enforces the size cap with maxPayload, closing with 1009). */
export class WebSocketMessageReader extends AbstractMessageReader {
  constructor(
    private readonly ws: WebSocket,
    private readonly onBad: (bad: BadMessage) => void,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    const onMessage = (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      const text = Buffer.isBuffer(data)
        ? data.toString('utf8')
        : Array.isArray(data)
          ? Buffer.concat(data).toString('utf8')
          : Buffer.from(data).toString('utf8');
      if (isBinary) {
        this.onBad({
          code: ErrorCodes.InvalidRequest,
          reason: 'invalid_request',
          message: 'binary frames are not accepted; send JSON text frames',
          id: null,
          fatal: false,
        });
        return;
      }
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
      if (typeof checked === 'string')
        this.onBad({
          code: ErrorCodes.InvalidRequest,
          reason: 'invalid_request',
          message: checked,
          id: null,
          fatal: false,
        });
      else callback(checked);
    };
    const onClose = () => this.fireClose();
    const onError = (e: Error) => this.fireError(e);
    this.ws.on('message', onMessage);
    this.ws.on('close', onClose);
    this.ws.on('error', onError);
    return {
      dispose: () => {
        this.ws.off('message', onMessage);
        this.ws.off('close', onClose);
        this.ws.off('error', onError);
      },
    };
  }
}

/** Writes one JSON-RPC message per text frame; writes after close are dropped (the peer is gone). */
export class WebSocketMessageWriter extends AbstractMessageWriter implements MessageWriter {
  constructor(private readonly ws: WebSocket) {
    super();
  }

  write(msg: Message): Promise<void> {
    if (this.ws.readyState !== this.ws.OPEN) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.send(JSON.stringify(msg), (err) => {
        if (err) this.fireError([err, msg, 0]);
        resolve();
      });
    });
  }

  end(): void {}
}
