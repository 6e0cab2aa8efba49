import { describeDrift, ensureDaemon, environmentDrift, type ShadowboxClient } from '@shadowbox/client';
import { DaemonStatus } from '@shadowbox/protocol';
import { resolveStatePaths, type StatePaths } from '../state/index.js';
import { daemonCommand } from './self-command.js';

/** Output streams and environment of one CLI invocation (injected for tests). */
export interface CliIo {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}

export { CliError } from './cli-error.js';

export { daemonCommand } from './self-command.js';

export function statePaths(io: CliIo, stateDir?: string): StatePaths {
  return resolveStatePaths(io.env, stateDir ? { stateDir } : {});
}

/** Connects to the daemon for this state dir, starting it when needed, and initializes. */
export async function connectCli(
  io: CliIo,
  opts: { stateDir?: string; name?: string; kind?: 'cli' | 'terminal' | 'acp'; permissions?: boolean } = {},
): Promise<ShadowboxClient> {
  const paths = statePaths(io, opts.stateDir);
  const env = { ...io.env, SHADOWBOX_STATE_DIR: paths.stateDir, SHADOWBOX_SOCKET: paths.socketPath };
  const client = await ensureDaemon({
    socketPath: paths.socketPath,
    stateDir: paths.stateDir,
    command: daemonCommand(),
    env,
  });
  await client.initialize(
    { name: opts.name ?? 'shadowbox-cli', kind: opts.kind ?? 'cli' },
    { permissions: opts.permissions ?? false },
  );
  return client;
}

/** Writes a line to stdout. */
export function println(io: CliIo, text = ''): void {
  io.stdout.write(`${text}\n`);
}

/** "1 file", "3 files": a count with its noun (never "1 file(s)"). */
export function plural(n: number, noun: string, nouns = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : nouns}`;
}

/**
 * Says so (stderr) when this shell sets model settings (keys, base URLs, SHADOWBOX_MODEL) the running daemon
 * does not have: it read its environment once, when it started, so an `export` afterwards does not reach it.
 */
export async function warnEnvironmentDrift(io: CliIo, client: ShadowboxClient, name: string): Promise<void> {
  const status = await client.request(DaemonStatus, {});
  const note = describeDrift(environmentDrift(status.environment, io.env), status.pid);
  if (note) io.stderr.write(`shadowbox ${name}: note: ${note}\n`);
}
