import { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { ndJsonStream } from '@agentclientprotocol/sdk';
import { ensureDaemon } from '../connect.js';
import { daemonPaths } from '../paths.js';
import { createAcpAgent } from './bridge.js';

/** Streams and environment of the `shadowbox acp` process. */
export interface AcpIo {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
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
  const log = (m: string) => io.stderr.write(`shadowbox acp: ${m}\n`);
  const daemon = await ensureDaemon({
    socketPath: p.socketPath,
    stateDir: p.stateDir,
    command: daemonCommand,
    env: { ...io.env, SHADOWBOX_STATE_DIR: p.stateDir, SHADOWBOX_SOCKET: p.socketPath },
  });
  // buffers: the editor's initialize comes later; the bridge answers null while it does not offer fs.readTextFile.
  await daemon.initialize({ name: 'shadowbox-acp', kind: 'acp', version }, { permissions: true, buffers: true });
  const agent = createAcpAgent({ daemon, log, version });
  const stream = ndJsonStream(
    Writable.toWeb(io.stdout as Writable) as WritableStream<Uint8Array>,
    Readable.toWeb(io.stdin as Readable) as ReadableStream<Uint8Array>,
  );
  const conn = agent.app.connect(stream);
  agent.bind(conn);
  let daemonGone = false;
  daemon.onClose(() => {
    daemonGone = true;
    log('the daemon connection closed');
    conn.close();
  });
  // Ends when the editor closes stdin (exit 0) or the daemon goes away (exit 1); the daemon keeps running.
  await conn.closed;
  daemon.dispose();
  return daemonGone ? 1 : 0;
}
