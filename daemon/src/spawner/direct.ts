// Starting a program straight from the daemon (child_process.spawn, which forks the daemon): what runs use when the
// spawner process is off, still starting, or gave up.
import { spawn as spawnChild, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Readable } from 'node:stream';
import { ErrorCodes, ShadowboxError } from '../errors.js';
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

/**
 * How long a run may stay unsettled after a SIGKILL for it was sent (ms), so that a stopped grep or shell command never
 * waits for good. Then: a program whose exit is known but whose pipes a descendant still holds ends with that exit
 * (the rest of its output is dropped). Otherwise, on the direct path the run fails (program_not_ended: a process in
 * uninterruptible sleep, on a hung disk, outlives SIGKILL); through the spawner process, that process is first asked
 * for a sign of life (a ping) and given as long again to answer. One that answers is well and the program is the one
 * not ending: only that run fails (program_not_ended). One that does not answer is taken for hung and killed (its runs
 * fail with spawner_exited). Before the ping, one slow run killed the spawner and failed every other run it had.
 */
export const KILL_WAIT_MS = 5000;

/** The error of a run whose program had not ended `ms` after the SIGKILL for it was sent. */
export function notEnded(file: string, ms: number): ShadowboxError {
  return new ShadowboxError(
    ErrorCodes.ToolFailed,
    'program_not_ended',
    `${file}, killed ${Math.round(ms / 1000)} s ago, has not ended (a hung disk?); the call ends without it`,
  );
}

/**
 * Starts `file` from this process. `killWaitMs` after a SIGKILL, a run not settled ends, its pipes closed unread: with
 * its exit when the program has exited (a descendant holds its pipes), else with program_not_ended.
 */
export function spawnDirect(
  file: string,
  args: readonly string[],
  o: ProgramOptions,
  killWaitMs = KILL_WAIT_MS,
): RunningProgram {
  let child: ChildProcess | undefined;
  let exit: ProgramExit | undefined;
  let waiting = false;
  let end: ((e: ProgramExit | Error) => void) | undefined;
  const pipes = pipesOf(o);
  const exited = new Promise<ProgramExit>((resolve, reject) => {
    end = (e) => (e instanceof Error ? reject(e) : resolve(e));
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
    child.once('exit', (code, signal) => (exit = { code, signal }));
    // 'close': the program has exited and every pipe is read to its end.
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return {
    exited,
    kill: (signal = 'SIGTERM') => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
      if (signal !== 'SIGKILL' || !child || waiting) return;
      waiting = true;
      const c = child;
      // Decided once what has come in is read (setImmediate): timers run before I/O in a turn of the event loop, so
      // a daemon busy past the wait took a program whose exit was in, unread, for one not ended.
      setTimeout(
        () =>
          setImmediate(() => {
            // Closed unread either way, as the spawner path closes them: whatever still holds them (a descendant,
            // the program itself) writes to no reader, and nothing reaches the caller after the run has settled.
            for (const [fd] of pipes) (c.stdio[fd] as Readable).destroy();
            end?.(exit ?? notEnded(file, killWaitMs)); // nothing once settled
          }),
        killWaitMs,
      ).unref();
    },
  };
}
