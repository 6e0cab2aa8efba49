// The baseline: a bare vscode-jsonrpc server (no validation, no sessions) answering `echo` over a Unix
// socket (LSP framing) and a WebSocket (one message per frame), in its own process like the daemon.
import net from 'node:net';
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';
import { AbstractMessageReader, AbstractMessageWriter } from 'vscode-jsonrpc';

const socketPath = process.argv[2];
const serve = (conn) => {
  conn.onRequest('echo', (p) => p);
  conn.onRequest('initialize', () => ({ clientId: 'c1' }));
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
