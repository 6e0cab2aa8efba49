// Starting a program straight from the daemon (child_process.spawn, which forks the daemon): what runs use when the
// spawner process is off, still starting, or gave up.
import { spawn as spawnChild, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import { isProgramEnv, type PipeFd } from './ipc.js';
import { SpawnError, type ProgramExit, type ProgramOptions, type RunningProgram } from './types.js';

/** The errno name of a spawn failure, else EIO. */
export function errnoOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : 'EIO';
}

/** The pipes a run asks for: each fd with its handler, ascending. */
export function pipesOf(o: ProgramOptions): [PipeFd, (chunk: Buffer) => void][] {
  const all: [PipeFd, ((chunk: Buffer) => void) | undefined][] = [
    [1, o.onStdout],
    [2, o.onStderr],
    [3, o.onFd3],
  ];
  return all.filter((p): p is [PipeFd, (chunk: Buffer) => void] => p[1] !== undefined);
}

/** The stdio of a program with these pipe fds: stdin /dev/null, fds 1–2 a pipe or /dev/null, fd 3 only as a pipe. */
export function stdioOf(fds: readonly PipeFd[]): StdioOptions {
  const io = (fd: PipeFd) => (fds.includes(fd) ? 'pipe' : 'ignore');
  return fds.includes(3) ? ['ignore', io(1), io(2), 'pipe'] : ['ignore', io(1), io(2)];
}

/** Starts `file` from this process. */
export function spawnDirect(file: string, args: readonly string[], o: ProgramOptions): RunningProgram {
  let child: ChildProcess | undefined;
  const pipes = pipesOf(o);
  const exited = new Promise<ProgramExit>((resolve, reject) => {
    // Refused as the spawner path refuses it (Node's own check throws a TypeError for a NUL only).
    if (o.env !== undefined && !isProgramEnv(o.env)) {
      reject(new SpawnError('EINVAL', file));
      return;
    }
    try {
      child = spawnChild(file, args, {
        cwd: o.cwd,
        stdio: stdioOf(pipes.map(([fd]) => fd)),
        ...(o.env ? { env: o.env } : {}),
      });
    } catch (e) {
      // Thrown at once: E2BIG, EINVAL, … (ENOENT and EACCES come as an 'error' event).
      reject(new SpawnError(errnoOf(e), file, { cause: e }));
      return;
    }
    for (const [fd, onData] of pipes) (child.stdio[fd] as Readable).on('data', onData);
    child.once('error', (e) => reject(new SpawnError(errnoOf(e), file, { cause: e })));
    // 'close': the program has exited and every pipe is read to its end.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
