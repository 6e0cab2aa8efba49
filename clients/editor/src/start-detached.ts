// Starts a process that outlives the one starting it. Editors and agent clients end their agents in
// different ways: some kill the process group, some (acpx) walk /proc and kill every descendant.
// `detached` (setsid) escapes the first only; escaping the second needs the process to stop being
// a descendant, so it is started through an intermediate that exits at once and the process is
// re-parented (to init or the nearest subreaper). The intermediate is util-linux `setsid --fork`
// where it exists (no second Node start), else a few lines of Node.
// node:child_process is loaded when a start is needed (process.getBuiltinModule, synchronous: the bundled
// clients run as CommonJS in a vm.Script, where a dynamic import() throws ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING):
// every client command loads this file, and loading that module costs ~1–3 ms of a command that finds the
// daemon running.
import { closeSync, existsSync, openSync } from 'node:fs';

/** Where to look for util-linux setsid (it has --fork); absent on macOS and minimal images. */
const SETSID = ['/usr/bin/setsid', '/bin/setsid'];

/** The Node intermediate: spawns argv (JSON in argv[1]) in its own session with this stdio, and exits. */
const NODE_INTERMEDIATE = `const [c, ...a] = JSON.parse(process.argv[1]);
require('node:child_process').spawn(c, a, { detached: true, stdio: 'inherit' }).unref();`;

/** Options of startDetached; `via` forces one intermediate (tests). */
export interface StartDetachedOptions {
  env: NodeJS.ProcessEnv;
  /** stdout and stderr of the started process are appended here (0600). */
  logFile: string;
  via?: 'setsid' | 'node';
}

/** Which intermediate startDetached uses here. */
export function detachVia(): 'setsid' | 'node' {
  return SETSID.some((p) => existsSync(p)) ? 'setsid' : 'node';
}

/**
 * Starts `command` in a new session whose parent has already exited when this resolves, so it is no
 * longer a descendant of this process; its output goes to `logFile`.
 */
export async function startDetached(command: string[], o: StartDetachedOptions): Promise<void> {
  const out = openSync(o.logFile, 'a', 0o600);
  try {
    const via = o.via ?? detachVia();
    const setsid = SETSID.find((p) => existsSync(p));
    const [cmd, args] =
      via === 'setsid' && setsid
        ? [setsid, ['--fork', ...command]]
        : [process.execPath, ['-e', NODE_INTERMEDIATE, JSON.stringify(command)]];
    const { spawn } = process.getBuiltinModule('node:child_process');
    const intermediate = spawn(cmd, args, { detached: true, stdio: ['ignore', out, out], env: o.env });
    await new Promise<void>((resolve, reject) => {
      intermediate.once('error', reject);
      intermediate.once('exit', (code, signal) =>
        code === 0 ? resolve() : reject(new Error(`starting ${command[0]} failed (${signal ?? `exit ${code}`})`)),
      );
    });
  } finally {
    closeSync(out);
  }
}
