import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';

/** Where the daemon keeps its state and listens; every path derives from the environment given. */
export interface StatePaths {
  stateDir: string;
  socketPath: string;
  lockFile: string;
  tokenFile: string;
  logFile: string;
  configFile: string;
}

/**
 * State dir: $SHADOWBOX_STATE_DIR, else ~/.local/state/shadowbox. Socket: $SHADOWBOX_SOCKET, else
 * <state dir>/daemon.sock when the state dir was set explicitly, else $XDG_RUNTIME_DIR/shadowbox/daemon.sock,
 * else ~/.local/state/shadowbox/daemon.sock.
 */
export function resolveStatePaths(
  env: NodeJS.ProcessEnv,
  overrides: { stateDir?: string; socketPath?: string } = {},
): StatePaths {
  const home = env.HOME ?? os.homedir();
  // An empty variable is unset (`SHADOWBOX_STATE_DIR=` once put the state dir in the current folder).
  const explicitState = overrides.stateDir || env.SHADOWBOX_STATE_DIR || undefined;
  const stateDir = path.resolve(explicitState ?? path.join(home, '.local', 'state', 'shadowbox'));
  const socketPath = path.resolve(
    overrides.socketPath ||
      env.SHADOWBOX_SOCKET ||
      (explicitState
        ? path.join(stateDir, 'daemon.sock')
        : env.XDG_RUNTIME_DIR
          ? path.join(env.XDG_RUNTIME_DIR, 'shadowbox', 'daemon.sock')
          : path.join(stateDir, 'daemon.sock')),
  );
  return {
    stateDir,
    socketPath,
    lockFile: path.join(stateDir, 'daemon.lock'),
    tokenFile: path.join(stateDir, 'ws.token'),
    logFile: path.join(stateDir, 'daemon.log'),
    configFile: path.join(stateDir, 'config.json'),
  };
}

/**
 * Per-workspace state (shadow repository and layers, audit log, project rules) lives under
 * <state dir>/workspaces/<first 16 hex of sha256(real workspace path)>/; nothing is written in the workspace.
 */
export function workspaceStateDir(stateDir: string, workspaceRealPath: string): string {
  const id = createHash('sha256').update(workspaceRealPath).digest('hex').slice(0, 16);
  return path.join(stateDir, 'workspaces', id);
}
