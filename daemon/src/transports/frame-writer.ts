import type { Writable } from 'node:stream';
import { AbstractMessageWriter, type Message, type MessageWriter } from 'vscode-jsonrpc';

/**
 * Writes LSP-framed (Content-Length) JSON-RPC messages, header and body as one write. vscode-jsonrpc's
 * stream writer writes the header, waits for it, then writes the body: two writes per message, and a
 * reader on the other end that wakes up for each half. A direct tools/call sends its answer and four
 * session events; that is ten writes, and ten wake-ups of the client, instead of five.
 */
export class FrameWriter extends AbstractMessageWriter implements MessageWriter {
  private errors = 0;

  constructor(private readonly out: Writable) {
    super();
  }

  /** Resolves once the stream took the bytes; rejects (and fires onError) when it failed or is gone. */
  write(msg: Message): Promise<void> {
    let frame: Buffer;
    try {
      const body = Buffer.from(JSON.stringify(msg), 'utf8');
      frame = Buffer.concat([Buffer.from(`Content-Length: ${body.byteLength}\r\n\r\n`, 'ascii'), body]);
    } catch (e) {
      // A message with no JSON form (a cycle, a BigInt): refused like a failed write, never thrown at the caller.
      this.fireError(e, msg, ++this.errors);
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    return new Promise((resolve, reject) => {
      this.out.write(frame, (err) => {
        if (!err) return resolve();
        this.fireError(err, msg, ++this.errors);
        reject(err);
      });
    });
  }

  end(): void {}
}
