// The shadowbox terminal client: `shadowbox chat` and `shadowbox attach`, over the daemon's Unix socket.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { describeDrift, environmentDrift } from '@shadowbox/client';
import { DaemonStatus, SessionList } from '@shadowbox/protocol';
import { Chat, type ChatStart } from './chat.js';
import { connectTerminal, type ConnectFn } from './connect.js';
import type { TerminalIo } from './io.js';

export type { TerminalIo } from './io.js';
export type { ConnectFn } from './connect.js';
export { connectTerminal, daemonStartCommand, resolveSocket } from './connect.js';

/** Test seams: how to reach the daemon (default: the socket, starting the daemon when needed). */
export interface TerminalOptions {
  connect?: ConnectFn;
}

const chatUsage =
  'usage: shadowbox chat [--workspace DIR] [--model PROVIDER/MODEL] [--session ID | --continue] [--state-dir DIR]';
const attachUsage = 'usage: shadowbox attach [SESSION-ID] [--drive] [--workspace DIR] [--state-dir DIR]';

/** `shadowbox chat`: creates a session on the workspace (or resumes --session as its driver) and runs the interactive prompt. */
export async function chatCommand(io: TerminalIo, argv: string[], opts: TerminalOptions = {}): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      workspace: { type: 'string', short: 'w' },
      model: { type: 'string', short: 'm' },
      session: { type: 'string', short: 's' },
      continue: { type: 'boolean', short: 'c' },
      'state-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout.write(`${chatUsage}\n`);
    return 0;
  }
  if (values.session && values.continue) {
    io.stderr.write(`shadowbox chat: give --session ID or --continue, not both\n${chatUsage}\n`);
    return 2;
  }
  const workspace = path.resolve(io.cwd, values.workspace ?? '.');
  const client = await (opts.connect ?? connectTerminal)(
    io,
    values['state-dir'] ? { stateDir: values['state-dir'] } : {},
  );
  // The daemon read its environment when it started: say so when this shell's model settings differ.
  const status = await client.request(DaemonStatus, {}).catch(() => null);
  const drift = status && describeDrift(environmentDrift(status.environment ?? [], io.env), status.pid);
  if (drift) io.stderr.write(`shadowbox chat: note: ${drift}\n`);
  let resume = values.session;
  if (values.continue) {
    // The latest conversation on the workspace: a session with prompts (not one of a CLI tool command).
    resume = (await client.request(SessionList, { workspace })).sessions.find((s) => s.prompts > 0)?.sessionId;
    if (!resume) {
      client.dispose();
      io.stderr.write(`shadowbox chat: no conversation to continue on ${workspace}; start one with shadowbox chat\n`);
      return 1;
    }
  }
  const start: ChatStart = resume
    ? { kind: 'attach', sessionId: resume, driver: true, ...(values.model ? { model: values.model } : {}) }
    : { kind: 'create', workspace, ...(values.model ? { model: values.model } : {}) };
  return new Chat(io, client).run(start);
}

/** `shadowbox attach ID`: follows a live session from a second terminal (watching until /drive); without an ID, the latest session on the workspace. */
export async function attachCommand(io: TerminalIo, argv: string[], opts: TerminalOptions = {}): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      drive: { type: 'boolean' },
      workspace: { type: 'string', short: 'w' },
      'state-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout.write(`${attachUsage}\n`);
    return 0;
  }
  const client = await (opts.connect ?? connectTerminal)(
    io,
    values['state-dir'] ? { stateDir: values['state-dir'] } : {},
  );
  let sessionId = positionals[0];
  if (!sessionId) {
    const workspace = path.resolve(io.cwd, values.workspace ?? '.');
    const { sessions } = await client.request(SessionList, { workspace });
    if (!sessions[0]) {
      client.dispose();
      io.stderr.write(`shadowbox attach: no session on ${workspace}; start one with shadowbox chat\n${attachUsage}\n`);
      return 2;
    }
    sessionId = sessions[0].sessionId;
  }
  return new Chat(io, client).run({ kind: 'attach', sessionId, driver: values.drive ?? false });
}
