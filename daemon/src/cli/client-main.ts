// The CLI's small bundle (dist/bundle/client.cjs): the subcommands that only talk to a running daemon
// (client-commands.ts), plus help and --version. It leaves out the daemon, the terminal, the web client and
// the bridges, so `shadowbox status` loads and compiles ~5× less code; daemon/bin/shadowbox.js picks it.
import { clientLoaders } from './client-commands.js';
import type { CliIo } from './context.js';
import { commandTable, dispatch } from './dispatch.js';

const commands = commandTable(clientLoaders);

/** Runs a client subcommand; returns the exit code. */
export function main(argv: string[], io: CliIo): Promise<number> {
  return dispatch(argv, io, commands);
}
