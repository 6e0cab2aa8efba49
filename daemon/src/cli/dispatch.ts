// Dispatches a command line over a table of commands (help, --version, errors said in one sentence). The full
// CLI (main.ts) and the small client bundle (client-main.ts) each give it their table.
import type { Command } from './client-commands.js';
import type { CliIo } from './context.js';
import { CliError } from './cli-error.js';
import { commandHelp, topHelp, wantsHelp } from './help.js';
import { type CommandName, type CommandSpec, specs } from './specs.js';

/** A command table: every subcommand's help, in the order `shadowbox --help` lists them, and its loader where this bundle has one. */
export type CommandTable = Record<string, CommandSpec & { load?: () => Promise<Command> }>;

/** The table over `specs` with these loaders (help lists every command whichever bundle runs). */
export function commandTable(loaders: Partial<Record<CommandName, () => Promise<Command>>>): CommandTable {
  return Object.fromEntries(
    (Object.keys(specs) as CommandName[]).map((name) => [name, { ...specs[name], load: loaders[name] }]),
  );
}

/** Runs the CLI over a command table; returns the exit code. Expected failures print one sentence, not a stack. */
export async function dispatch(argv: string[], io: CliIo, commands: CommandTable): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    io.stdout.write(`${topHelp(commands)}\n`);
    return name ? 0 : 2;
  }
  if (name === 'help') {
    const topic = rest[0];
    if (!topic) {
      io.stdout.write(`${topHelp(commands)}\n`);
      return 0;
    }
    const c = commands[topic];
    if (!c) {
      io.stderr.write(`shadowbox help: no command ${JSON.stringify(topic)}\n\n${topHelp(commands)}\n`);
      return 2;
    }
    io.stdout.write(`${commandHelp(topic, c)}\n`);
    return 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${(await import('../version.js')).versionLine()}\n`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    io.stderr.write(`shadowbox: unknown command ${JSON.stringify(name)}\n\n${topHelp(commands)}\n`);
    return 2;
  }
  if (wantsHelp(rest, entry.passThrough)) {
    io.stdout.write(`${commandHelp(name, entry)}\n`);
    return 0;
  }
  // A bundle without this command's code (the bin sends it only the commands it has).
  if (!entry.load) {
    io.stderr.write(`shadowbox: ${name} is not in this bundle (daemon/bin/shadowbox.js picks the bundle)\n`);
    return 70;
  }
  try {
    return await (
      await entry.load()
    )(io, rest);
  } catch (e) {
    if (e instanceof CliError) {
      io.stderr.write(`shadowbox ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    const { isShadowboxError } = await import('../errors.js');
    // Loaded only on a failure: the client library stays out of `--version` and `--help`.
    if (isShadowboxError(e) || e instanceof (await import('@shadowbox/client')).DaemonStartError) {
      io.stderr.write(`shadowbox ${name}: ${e.message}\n`);
      return 1;
    }
    const err = e as { code?: unknown; message?: string; data?: { reason?: string } };
    if (typeof err?.code === 'number' && err.message) {
      io.stderr.write(
        `shadowbox ${name}: ${err.message} (${err.code}${err.data?.reason ? ` ${err.data.reason}` : ''})\n`,
      );
      return 1;
    }
    if (e instanceof TypeError && (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr.write(`shadowbox ${name}: ${e.message} (shadowbox ${name} --help lists the options)\n`);
      return 2;
    }
    io.stderr.write(`shadowbox ${name}: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}
