// Starting a program straight from the daemon (child_process.spawn, which forks the daemon): what runs use when the
// spawner process is off, still starting, or gave up.
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { SpawnError, type ProgramExit, type ProgramOptions, type RunningProgram } from './types.js';

/** The errno name of a spawn failure, else EIO. */
export function errnoOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : 'EIO';
}

/** Starts `file` from this process. */
export function spawnDirect(file: string, args: readonly string[], o: ProgramOptions): RunningProgram {
  let child: ChildProcess | undefined;
  const exited = new Promise<ProgramExit>((resolve, reject) => {
    try {
      child = spawnChild(file, args, { cwd: o.cwd, stdio: ['ignore', o.onStdout ? 'pipe' : 'ignore', 'ignore'] });
    } catch (e) {
      // Thrown at once: E2BIG, EINVAL, … (ENOENT and EACCES come as an 'error' event).
      reject(new SpawnError(errnoOf(e), file, { cause: e }));
      return;
    }
    if (o.onStdout) child.stdout!.on('data', o.onStdout);
    child.once('error', (e) => reject(new SpawnError(errnoOf(e), file, { cause: e })));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
