import type net from 'node:net';
import { Readable, Transform, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { ndJsonStream } from '@agentclientprotocol/sdk';
import type { ShadowboxClient } from '../client.js';
import { connectSocket, ensureDaemon } from '../connect.js';
import { daemonPaths } from '../paths.js';
import { createAcpAgent } from './bridge.js';

/** Streams and environment of the `shadowbox acp` process. */
export interface AcpIo {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** How serving one editor ended: it closed its side, the daemon link closed, or the daemon could not be reached. */
export type AcpEnd = 'editor-closed' | 'daemon-gone' | 'unreachable';

interface ServeOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
  /** The daemon link, initialized: the editor's initialize is answered while it comes up. */
  daemon: Promise<ShadowboxClient>;
  log: (msg: string) => void;
  version: string;
}

/** The daemon link as the bridge uses it: initialized as an ACP client that answers permissions and buffers. */
async function initialized(daemon: Promise<ShadowboxClient>, version: string): Promise<ShadowboxClient> {
  const d = await daemon;
  // buffers: the editor's initialize comes later; the bridge answers null while it does not offer fs.readTextFile.
  await d.initialize({ name: 'shadowbox-acp', kind: 'acp', version }, { permissions: true, buffers: true });
  return d;
}

/**
 * Serves one editor: the ACP agent (one JSON message per line on `input`/`output`) relaying to the daemon. The
 * same code runs in the `shadowbox acp` process and, for the native launcher, inside the daemon (hostAcpConnection).
 */
async function serveAcp(o: ServeOptions): Promise<AcpEnd> {
  const agent = createAcpAgent({ daemon: o.daemon, log: o.log, version: o.version });
  const stream = ndJsonStream(
    Writable.toWeb(o.output as Writable) as WritableStream<Uint8Array>,
    Readable.toWeb(o.input as Readable) as ReadableStream<Uint8Array>,
  );
  const conn = agent.app.connect(stream);
  agent.bind(conn);
  let daemon;
  try {
    daemon = await o.daemon;
  } catch (e) {
    o.log(`cannot reach the daemon: ${(e as Error).message}`);
    conn.close();
    return 'unreachable';
  }
  let daemonGone = false;
  daemon.onClose(() => {
    daemonGone = true;
    o.log('the daemon connection closed');
    conn.close();
  });
  // Ends when the editor closes its side or the daemon goes away; the daemon keeps running.
  await conn.closed;
  daemon.dispose();
  return daemonGone ? 'daemon-gone' : 'editor-closed';
}

/**
 * `shadowbox acp`: an ACP agent on stdin/stdout (one JSON message per line; stdout carries only ACP
 * messages, logs go to stderr) relaying to the daemon over its socket, starting it when needed.
 */
export async function acpCommand(
  io: AcpIo & { cwd?: string },
  argv: string[],
  daemonCommand: string[],
  version: string,
): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { 'state-dir': { type: 'string' } } });
  const p = daemonPaths(io.env, values['state-dir']);
  // The daemon link comes up (or the daemon starts) while the editor's initialize is answered: a cold
  // start does not make the editor wait for the daemon.
  const daemon = initialized(
    ensureDaemon({
      socketPath: p.socketPath,
      stateDir: p.stateDir,
      command: daemonCommand,
      env: { ...io.env, SHADOWBOX_STATE_DIR: p.stateDir, SHADOWBOX_SOCKET: p.socketPath },
    }),
    version,
  );
  const log = (m: string) => io.stderr.write(`shadowbox acp: ${m}\n`);
  // Exit 0 when the editor closed stdin, 1 when the daemon went away or could not be reached.
  return (await serveAcp({ input: io.stdin, output: io.stdout, daemon, log, version })) === 'editor-closed' ? 0 : 1;
}

/**
 * Passes the editor's bytes through while no line (one ACP message) is longer than `max` bytes, the daemon's message
 * cap: a longer one would be held whole in the daemon's memory by the SDK's line reader. Past it the link is dropped
 * and the log says so (a Node bridge process would hold it in its own memory instead).
 */
function lineCap(max: number, socket: net.Socket, log: (msg: string) => void): Transform {
  let line = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      const first = chunk.indexOf(10);
      const last = chunk.lastIndexOf(10);
      // The line this chunk ends (if it ends one), then the line it leaves open.
      const ended = first < 0 ? 0 : line + first;
      line = last < 0 ? line + chunk.length : chunk.length - last - 1;
      if (line > max || ended > max) {
        log(`a message longer than ${max} bytes: the link is dropped`);
        socket.destroy();
        done();
        return;
      }
      done(null, chunk);
    },
  });
}

/**
 * One editor's connection to the daemon's ACP socket (the native `shadowbox acp` relays its stdio there), served
 * inside the daemon by the same agent as the `shadowbox acp` process, linked to the daemon's own Unix socket as
 * any client is: the daemon sees the same client, with the same capabilities, asking the same questions. Resolves
 * when it ended (the socket is then ended, and destroyed if the relay does not close it).
 */
export async function hostAcpConnection(
  socket: net.Socket,
  o: { daemonSocket: string; log: (msg: string) => void; version: string; maxLineBytes: number },
): Promise<AcpEnd> {
  const daemon = initialized(connectSocket(o.daemonSocket), o.version);
  // The editor's side as a readable of its own: Readable.toWeb of the half-open socket itself would wait for its
  // writable side to finish too (stream.finished on a duplex) and never see the editor's end.
  const input = socket.pipe(lineCap(o.maxLineBytes, socket, o.log));
  // A link that breaks (the relay killed with answers unread resets it) closes without an end: the editor is gone.
  socket.once('close', () => {
    if (!input.writableEnded) input.end();
  });
  try {
    return await serveAcp({ input, output: socket, daemon, log: o.log, version: o.version });
  } finally {
    socket.end();
    socket.destroySoon();
  }
}
