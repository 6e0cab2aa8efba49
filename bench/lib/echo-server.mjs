// The baseline: a bare vscode-jsonrpc server (no validation, no sessions) answering `echo` over a Unix
// socket (LSP framing) and a WebSocket (one message per frame), in its own process like the daemon.
// For fan-out rows it also sends session/event-shaped notifications to every subscribed connection,
// straight from memory (no log, no disk): what the daemon's fan-out costs on top of the transport.
import net from 'node:net';
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { AbstractMessageReader, AbstractMessageWriter } from 'vscode-jsonrpc';

const socketPath = process.argv[2];
const subscribers = new Set();
const serve = (conn) => {
  conn.onRequest('echo', (p) => p);
  conn.onRequest('initialize', () => ({ clientId: 'c1' }));
  conn.onRequest('fanout/subscribe', () => {
    subscribers.add(conn);
    conn.onClose(() => subscribers.delete(conn));
    return null;
  });
  conn.onRequest('fanout/emit', ({ n, sessionId }) => {
    for (let i = 0; i < n; i++) {
      const event = {
        sessionId,
        seq: i,
        time: new Date().toISOString(),
        event: { type: 'message_delta', turnId: 't', text: `t${i} ` },
      };
      for (const s of subscribers) s.sendNotification('session/event', event).catch(() => undefined);
    }
    return null;
  });
  conn.listen();
};
net
  .createServer((s) => serve(createMessageConnection(new SocketMessageReader(s), new SocketMessageWriter(s))))
  .listen(socketPath);

class R extends AbstractMessageReader {
  constructor(ws) {
    super();
    this.ws = ws;
  }
  listen(cb) {
    this.ws.on('message', (d) => cb(JSON.parse(d.toString())));
    this.ws.on('close', () => this.fireClose());
    return { dispose() {} };
  }
}
class W extends AbstractMessageWriter {
  constructor(ws) {
    super();
    this.ws = ws;
  }
  async write(m) {
    this.ws.send(JSON.stringify(m));
  }
  end() {}
}
const server = http.createServer();
const wss = new WebSocketServer({ server, path: '/rpc' });
wss.on('connection', (ws) => serve(createMessageConnection(new R(ws), new W(ws))));
server.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${server.address().port}\n`));
