import { commands } from './commands.js';
import type { CliIo } from './context.js';
import { CliError } from './cli-error.js';

/** Subcommands, loaded on demand so `shadowbox status` does not pay for the web client or WASI. */

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((k) => k.length));
  return [
    'usage: shadowbox <command> [options]',
    '',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'State lives in $SHADOWBOX_STATE_DIR (default ~/.local/state/shadowbox); the socket at $SHADOWBOX_SOCKET when set.',
  ].join('\n');
}

/** Runs the CLI; returns the exit code. Expected failures print one sentence, not a stack. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(`${usage()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${(await import('../version.js')).versionLine()}\n`);
    return 0;
  }
  const entry = commands[name];
  if (!entry) {
    io.stderr.write(`shadowbox: unknown command ${JSON.stringify(name)}\n\n${usage()}\n`);
    return 2;
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
    if ((await import('../errors.js')).isShadowboxError(e)) {
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
      io.stderr.write(`shadowbox ${name}: ${e.message}\n`);
      return 2;
    }
    io.stderr.write(`shadowbox ${name}: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}
