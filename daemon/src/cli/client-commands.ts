// The subcommands that only talk to a running daemon over its socket (status, review, run, python, …). The
// CLI's small bundle (dist/bundle/client.cjs, built from client-main.ts) holds these and not the daemon, the
// terminal, the web client or the bridges; daemon/bin/shadowbox.js sends exactly these names to it (a test
// keeps the two lists equal). Like commands.ts, this file loads nothing at load time.
import type { CliIo } from './context.js';
import type { CommandName } from './specs.js';

/** One subcommand: it gets the CLI's io and its own argv, and returns the exit code. */
export type Command = (io: CliIo, argv: string[]) => Promise<number>;

/** The loaders of the client-only subcommands. */
export const clientLoaders = {
  run: async () => (await import('./run-command.js')).runCommand,
  sessions: async () => (await import('./sessions-command.js')).sessionsCommand,
  review: async () => (await import('./review-commands.js')).reviewCommand,
  accept: async () => (await import('./review-commands.js')).acceptCommand,
  reject: async () => (await import('./review-commands.js')).rejectCommand,
  undo: async () => (await import('./review-commands.js')).undoCommand,
  shadow: async () => (await import('./review-commands.js')).shadowCommand,
  python: async () => (await import('./tool-commands.js')).pythonCommand,
  exec: async () => (await import('./exec-command.js')).execCommand,
  wasi: async () => (await import('./tool-commands.js')).wasiCommand,
  status: async () => (await import('./lifecycle-commands.js')).statusCommand,
  stop: async () => (await import('./lifecycle-commands.js')).stopCommand,
} satisfies Partial<Record<CommandName, () => Promise<Command>>>;
