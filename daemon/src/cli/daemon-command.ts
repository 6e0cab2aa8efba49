import { parseArgs } from 'node:util';
import { DAEMON_EXIT_ALREADY_RUNNING, ErrorCodes } from '@shadowbox/protocol';
import { startDaemon } from '../daemon.js';
import { isShadowboxError } from '../errors.js';
import { consoleAsOneLine } from '../state/index.js';
import { VERSION } from '../version.js';
import { wireCapabilities } from '../wiring.js';
// Not ./context.js: that loads the client library, which the daemon does not use (~25 ms of start).
import { CliError } from './cli-error.js';
import type { CliIo } from './context.js';
import { optionsOf } from './specs.js';

/**
 * `shadowbox daemon [--stdio] [--socket PATH] [--no-socket] [--ws-port N] [--no-web] [--max-message-bytes N]`:
 * runs the daemon in the foreground until SIGTERM/SIGINT, `shadowbox stop`, or (with --stdio) `exit`.
 */
export async function daemonCommand(io: CliIo, argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: optionsOf('daemon') });
  const wsPortText = values['ws-port'] ?? io.env.SHADOWBOX_WS_PORT ?? (values.stdio ? undefined : '0');
  const wsPort = values['no-web'] || wsPortText === undefined ? undefined : Number(wsPortText);
  if (wsPort !== undefined && (!Number.isInteger(wsPort) || wsPort < 0 || wsPort > 65535))
    throw new CliError(`--ws-port must be a port number (0 picks one), not ${wsPortText}`, 2);
  const maxText = values['max-message-bytes'];
  const maxMessageBytes = maxText === undefined ? undefined : Number(maxText);
  if (maxMessageBytes !== undefined && (!Number.isInteger(maxMessageBytes) || maxMessageBytes < 1024))
    throw new CliError('--max-message-bytes must be an integer ≥ 1024', 2);
  // What a hosted package writes to the console (the ACP SDK's diagnostics carry an editor's ids) stays one line.
  consoleAsOneLine(io.stderr);
  const started = startDaemon({
    env: io.env,
    ...(values['state-dir'] ? { stateDir: values['state-dir'] } : {}),
    ...(values.socket ? { socketPath: values.socket } : {}),
    socket: values.stdio ? false : !values['no-socket'],
    ...(values.stdio ? { stdio: { input: process.stdin, output: process.stdout } } : {}),
    ...(wsPort !== undefined ? { wsPort } : {}),
    ...(maxMessageBytes ? { maxMessageBytes } : {}),
    logToStderr: true,
    capabilities: (ctx) => wireCapabilities(ctx),
    // The ACP bridge for editors the native `shadowbox acp` relays here: loaded on the first one.
    acp: async (socket, ctx) =>
      (await import('@shadowbox/client/acp')).hostAcpConnection(socket, { ...ctx, version: VERSION }),
  });
  const daemon = await started.catch((e: unknown) => {
    // Another daemon holds this state dir: a distinct exit code tells an auto-starting client to wait for it.
    if (isShadowboxError(e, ErrorCodes.InternalError, 'daemon_running'))
      throw new CliError(e.message, DAEMON_EXIT_ALREADY_RUNNING);
    throw e;
  });
  const onSignal = (sig: string) => {
    daemon.logger.info(`received ${sig}`);
    void daemon.stop();
  };
  process.once('SIGTERM', () => onSignal('SIGTERM'));
  process.once('SIGINT', () => onSignal('SIGINT'));
  if (!values.stdio)
    io.stderr.write(
      `shadowbox daemon ready: socket ${daemon.socketPath ?? 'none'}${daemon.webUrl ? `, web ${daemon.webUrl}` : ''}\n`,
    );
  await daemon.stopped;
  // Stopped means stopped: work a call left running (it was told to stop) never keeps the process, or a core, busy.
  process.exit(0);
}
