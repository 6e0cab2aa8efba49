// `shadowbox acp` as a bundle of its own (dist/bundle/acp.cjs, built by scripts/bundle.mjs): the bridge an
// editor keeps running holds the ACP SDK, the client library and the protocol, not the daemon (docs/editors.md
// has the memory this saves). daemon/bin/shadowbox.js picks it for `shadowbox acp`; help and errors are the
// CLI's own (dispatch.ts).
import type { Command } from './client-commands.js';
import type { CliIo } from './context.js';
import { commandTable, dispatch } from './dispatch.js';
import { daemonCommand } from './self-command.js';
import { VERSION } from '../version.js';

// Imported on first use, as in the full CLI: esbuild then initialises the ACP SDK and zod in the order their
// modules need (a static import ran the SDK's schemas before zod's classes were defined).
const acp: Command = async (io, argv) =>
  (await import('@shadowbox/client/acp')).acpCommand(io, argv, daemonCommand(), VERSION);
const commands = commandTable({ acp: () => Promise.resolve(acp) });

/** Runs `shadowbox acp ARGS`; returns the exit code. */
export function main(argv: string[], io: CliIo): Promise<number> {
  return dispatch(argv, io, commands);
}
