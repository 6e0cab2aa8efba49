// The floor of `shadowbox status` for a Node client: connect to the daemon's socket (argv[2]), `initialize`,
// `daemon/status`, print the result — hand-written Content-Length framing, no library, no validation, no
// formatting. CommonJS so Node loads no ES module. bench/start.mjs times it against `node -e ''` and `status`.
'use strict';
const net = require('node:net');

const socket = net.connect(process.argv[2]);
let buf = Buffer.alloc(0);
let id = 0;
const send = (method, params) => {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }));
  socket.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
};
socket.on('data', (d) => {
  buf = Buffer.concat([buf, d]);
  for (;;) {
    const head = buf.indexOf('\r\n\r\n');
    if (head < 0) return;
    const n = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, head).toString('latin1'))?.[1]);
    if (buf.length < head + 4 + n) return;
    const msg = JSON.parse(buf.subarray(head + 4, head + 4 + n).toString('utf8'));
    buf = buf.subarray(head + 4 + n);
    if (msg.error) {
      process.stderr.write(`${JSON.stringify(msg.error)}\n`);
      process.exit(1);
    }
    if (msg.id === 1) send('daemon/status', {});
    else if (msg.id === 2) {
      process.stdout.write(`${JSON.stringify(msg.result)}\n`);
      socket.end();
    }
  }
});
send('initialize', { protocolVersion: 1, clientInfo: { name: 'bench-bare-status', kind: 'cli' } });
