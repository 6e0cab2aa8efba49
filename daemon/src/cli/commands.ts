// The shadowbox subcommands: each one's help (specs.ts) and a loader, so `shadowbox status` does not pay for
// the web client, the terminal or WASI. main.ts dispatches on this table; nothing registers itself. This file
// imports no module with work at load time (no protocol, no client): `--help` and `--version` load nothing else.
import { VERSION } from '../version.js';
import type { CliIo } from './context.js';
import { type CommandName, type CommandSpec, specs } from './specs.js';

/** One subcommand: it gets the CLI's io and its own argv, and returns the exit code. */
export type Command = (io: CliIo, argv: string[]) => Promise<number>;

const loaders: Record<CommandName, () => Promise<Command>> = {
  chat: async () => (await import('@shadowbox/terminal')).chatCommand,
  run: async () => (await import('./run-command.js')).runCommand,
  sessions: async () => (await import('./sessions-command.js')).sessionsCommand,
  review: async () => (await import('./review-commands.js')).reviewCommand,
  accept: async () => (await import('./review-commands.js')).acceptCommand,
  reject: async () => (await import('./review-commands.js')).rejectCommand,
  undo: async () => (await import('./review-commands.js')).undoCommand,
  shadow: async () => (await import('./review-commands.js')).shadowCommand,
  attach: async () => (await import('@shadowbox/terminal')).attachCommand,
  python: async () => (await import('./tool-commands.js')).pythonCommand,
  exec: async () => (await import('./exec-command.js')).execCommand,
  wasi: async () => (await import('./tool-commands.js')).wasiCommand,
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
  status: async () => (await import('./lifecycle-commands.js')).statusCommand,
  stop: async () => (await import('./lifecycle-commands.js')).stopCommand,
  daemon: async () => (await import('./daemon-command.js')).daemonCommand,
  doctor: async () => (await import('./doctor-command.js')).doctorCommand,
  demo: async () => (await import('./demo-command.js')).demoCommand,
};

/** Every subcommand by name, in the order `shadowbox --help` lists them: its help and its loader. */
export const commands: Record<string, CommandSpec & { load: () => Promise<Command> }> = Object.fromEntries(
  (Object.keys(specs) as CommandName[]).map((name) => [name, { ...specs[name], load: loaders[name] }]),
);
