// The shadowbox subcommands: each one's help (specs.ts) and a loader, so `shadowbox status` does not pay for
// the web client, the terminal or WASI. main.ts dispatches on this table; nothing registers itself. This file
// imports no module with work at load time (no protocol, no client): `--help` and `--version` load nothing else.
import { VERSION } from '../version.js';
import { clientLoaders, type Command } from './client-commands.js';
import { commandTable, type CommandTable } from './dispatch.js';
import type { CommandName } from './specs.js';

export type { Command } from './client-commands.js';

const loaders: Record<CommandName, () => Promise<Command>> = {
  ...clientLoaders,
  chat: async () => (await import('@shadowbox/terminal')).chatCommand,
  attach: async () => (await import('@shadowbox/terminal')).attachCommand,
  web: async () => (await import('./web-command.js')).webCommand,
  acp: async () => async (io, argv) =>
    (await import('@shadowbox/client/acp')).acpCommand(
      io,
      argv,
      (await import('./context.js')).daemonCommand(),
      VERSION,
    ),
  lsp: async () => async (io, argv) =>
    (await import('@shadowbox/client/lsp')).lspCommand(
      io,
      argv,
      (await import('./context.js')).daemonCommand(),
      VERSION,
    ),
  audit: async () => (await import('./audit-commands.js')).auditCommand,
  policy: async () => (await import('./audit-commands.js')).policyCommand,
  bundles: async () => (await import('./bundles-commands.js')).bundlesCommand,
  daemon: async () => (await import('./daemon-command.js')).daemonCommand,
  doctor: async () => (await import('./doctor-command.js')).doctorCommand,
  demo: async () => (await import('./demo-command.js')).demoCommand,
};

/** Every subcommand by name, in the order `shadowbox --help` lists them: its help and its loader. */
export const commands: CommandTable = commandTable(loaders);
