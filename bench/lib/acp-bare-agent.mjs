// The bench's alternative for the ACP bridge: the smallest ACP agent the same SDK makes (answers
// initialize, nothing else), on stdin/stdout, so "spawn → initialize" compares like with like.
import { Readable, Writable } from 'node:stream';
import { agent, ndJsonStream, PROTOCOL_VERSION } from '@agentclientprotocol/sdk';

const app = agent({ name: 'bare' }).onRequest('initialize', () => ({
  protocolVersion: PROTOCOL_VERSION,
  agentCapabilities: {},
  authMethods: [],
}));
const conn = app.connect(ndJsonStream(Writable.toWeb(process.stdout), Readable.toWeb(process.stdin)));
await conn.closed;
