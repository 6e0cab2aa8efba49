import os from 'node:os';
import path from 'node:path';

/** Where the daemon's state and socket are for an environment: the same rules as the daemon's own. */
export function daemonPaths(env: NodeJS.ProcessEnv, stateDirFlag?: string): { stateDir: string; socketPath: string } {
  // An empty variable is unset, as in the daemon (an empty SHADOWBOX_STATE_DIR once meant the current folder).
  const explicit = stateDirFlag || env.SHADOWBOX_STATE_DIR || undefined;
  const stateDir = path.resolve(explicit ?? path.join(env.HOME ?? os.homedir(), '.local', 'state', 'shadowbox'));
  const socketPath = path.resolve(
    env.SHADOWBOX_SOCKET ||
      (explicit
        ? path.join(stateDir, 'daemon.sock')
        : env.XDG_RUNTIME_DIR
          ? path.join(env.XDG_RUNTIME_DIR, 'shadowbox', 'daemon.sock')
          : path.join(stateDir, 'daemon.sock')),
  );
  return { stateDir, socketPath };
}
