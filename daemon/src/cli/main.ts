// The whole CLI: every subcommand (the daemon, the bridges, the terminal, the web client, the client commands).
import { commands } from './commands.js';
import type { CliIo } from './context.js';
import { dispatch } from './dispatch.js';

/** Runs the CLI; returns the exit code. Expected failures print one sentence, not a stack. */
export function main(argv: string[], io: CliIo): Promise<number> {
  return dispatch(argv, io, commands);
}
