// What a caller of the spawner sees: one interface whether a program is started by the spawner process or directly.

/**
 * How to run one program: stdin is /dev/null; stdout, stderr and fd 3 are pipes read by the daemon itself when their
 * handler is given (each chunk in order), else stdout and stderr are /dev/null and fd 3 is not open.
 */
export interface ProgramOptions {
  /** The working directory (absolute). */
  cwd: string;
  /**
   * The program's whole environment (names not empty, without `=` or NUL; values without NUL: else the run fails with
   * EINVAL). Default: the daemon's (process.env).
   */
  env?: Readonly<Record<string, string>>;
  /** Each chunk of the program's stdout. */
  onStdout?: (chunk: Buffer) => void;
  /** Each chunk of the program's stderr. */
  onStderr?: (chunk: Buffer) => void;
  /** Each chunk the program writes to fd 3 (bubblewrap's `--json-status-fd 3`). */
  onFd3?: (chunk: Buffer) => void;
}

/** How a program ended: its exit code, or the signal that ended it. */
export interface ProgramExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One started program. */
export interface RunningProgram {
  /**
   * Settles once the program has exited and each of its pipes is read to the end (child_process's 'close'). Rejects with a
   * SpawnError when it could not start (`code` is the errno name: ENOENT, E2BIG, …), or with a ShadowboxError
   * (ToolFailed, `spawner_exited`) when the spawner process died while it ran.
   */
  readonly exited: Promise<ProgramExit>;
  /** Sends a signal to the program (default SIGTERM); nothing once it has exited. */
  kill(signal?: NodeJS.Signals): void;
}

/** Starts programs for the daemon. */
export interface Spawner {
  /** Starts `file` (an absolute path) with `args`. Never throws: a failure to start rejects `exited`. */
  spawn(file: string, args: readonly string[], options: ProgramOptions): RunningProgram;
  /** Starts the spawner process now rather than on first need (no effect when it runs, or runs are direct). */
  warm(): void;
  /** Where the next run goes: the spawner process, a direct spawn while it starts, or direct for good. */
  state(): 'ready' | 'starting' | 'stopped' | 'direct';
  /** Stops the spawner process; the programs it still runs are killed. Later runs are direct. */
  close(): Promise<void>;
}

/** A program could not be started; `code` is the errno name, as on Node's own spawn errors (E2BIG, ENOENT, …). */
export class SpawnError extends Error {
  readonly syscall = 'spawn';
  constructor(
    readonly code: string,
    readonly path: string,
    options?: { cause?: unknown },
  ) {
    super(`spawn ${path} ${code}`, options);
    this.name = 'SpawnError';
  }
}
