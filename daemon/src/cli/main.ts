import { commands } from './commands.js';
import type { CliIo } from './context.js';
import { CliError } from './cli-error.js';
import { commandHelp, topHelp, wantsHelp } from './help.js';

/** Runs the CLI; returns the exit code. Expected failures print one sentence, not a stack. */
export async function main(argv: string[], io: CliIo): Promise<number> {
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
