import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDaemon, type ShadowboxClient } from '@shadowbox/client';
import type { TerminalIo } from './io.js';

/** Opens a connection to the daemon (already initialized). Injected by tests; the default auto-starts the daemon. */
export type ConnectFn = (io: TerminalIo, opts: { stateDir?: string }) => Promise<ShadowboxClient>;

/** State dir and socket, resolved exactly as the daemon does (SHADOWBOX_STATE_DIR, SHADOWBOX_SOCKET, XDG_RUNTIME_DIR). */
export function resolveSocket(
  env: NodeJS.ProcessEnv,
  stateDirOverride?: string,
): { stateDir: string; socketPath: string } {
  const home = env.HOME ?? os.homedir();
  const explicit = stateDirOverride ?? env.SHADOWBOX_STATE_DIR;
  const stateDir = path.resolve(explicit ?? path.join(home, '.local', 'state', 'shadowbox'));
  const socketPath = path.resolve(
    env.SHADOWBOX_SOCKET ??
      (explicit
        ? path.join(stateDir, 'daemon.sock')
        : env.XDG_RUNTIME_DIR
          ? path.join(env.XDG_RUNTIME_DIR, 'shadowbox', 'daemon.sock')
          : path.join(stateDir, 'daemon.sock')),
  );
  return { stateDir, socketPath };
}

/** How to start the daemon: $SHADOWBOX_BIN, else the running shadowbox.js, else the one in this checkout. */
export function daemonStartCommand(env: NodeJS.ProcessEnv, argv1 = process.argv[1]): string[] {
  const bin =
    env.SHADOWBOX_BIN ??
    (argv1 && /shadowbox(\.js)?$/.test(path.basename(argv1))
      ? argv1
      : path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../daemon/bin/shadowbox.js'));
  return [process.execPath, bin, 'daemon'];
}

/** Connects to the daemon for this state dir, starting it when none answers, and initializes as a terminal that answers permission questions. */
export const connectTerminal: ConnectFn = async (io, opts) => {
  const { stateDir, socketPath } = resolveSocket(io.env, opts.stateDir);
  const env = { ...io.env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_SOCKET: socketPath };
  const client = await ensureDaemon({ socketPath, stateDir, command: daemonStartCommand(io.env), env });
  await client.initialize({ name: `terminal ${process.pid}`, kind: 'terminal' }, { permissions: true });
  return client;
};
