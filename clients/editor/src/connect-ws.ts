// The WebSocket transport of the client library, in its own file so that socket clients (the CLI, the ACP
// bridge) never load ws, and with it node:https and node:tls.
import WebSocket from 'ws';
import {
  AbstractMessageReader,
  AbstractMessageWriter,
  createMessageConnection,
  type DataCallback,
  type Disposable,
  type Message,
} from 'vscode-jsonrpc/node';
import { Defaults } from '@shadowbox/protocol';
import { ShadowboxClient } from './client.js';

/** A WebSocket message's text, whichever of ws's binary shapes it arrived in. */
function rawDataText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

class WsReader extends AbstractMessageReader {
  constructor(private readonly ws: WebSocket) {
    super();
  }
  listen(callback: DataCallback): Disposable {
    const onMessage = (data: WebSocket.RawData) => {
      try {
        callback(JSON.parse(rawDataText(data)) as Message);
      } catch (e) {
        this.fireError(e);
      }
    };
    const onClose = () => this.fireClose();
    this.ws.on('message', onMessage);
    this.ws.on('close', onClose);
    return { dispose: () => (this.ws.off('message', onMessage), this.ws.off('close', onClose)) };
  }
}

class WsWriter extends AbstractMessageWriter {
  constructor(private readonly ws: WebSocket) {
    super();
  }
  async write(msg: Message): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }
  end(): void {}
}

/** Connects to the daemon's /rpc WebSocket with the token as a Bearer header (non-browser client). */
export function openWebSocketClient(
  baseUrl: string,
  token: string,
  headers: Record<string, string> = {},
): Promise<ShadowboxClient> {
  const url = new URL(Defaults.wsPath, baseUrl.replace(/^http/, 'ws'));
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [Defaults.wsSubprotocol], {
      headers: { Authorization: `Bearer ${token}`, ...headers },
    });
    ws.once('unexpected-response', (_req, res) =>
      reject(Object.assign(new Error(`WebSocket upgrade refused: HTTP ${res.statusCode}`), { status: res.statusCode })),
    );
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => ws.terminate());
      const connection = createMessageConnection(new WsReader(ws), new WsWriter(ws));
      connection.onClose(() => ws.terminate());
      connection.listen();
      resolve(new ShadowboxClient(connection));
    });
  });
}
