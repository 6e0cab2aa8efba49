// The messages between the daemon and its spawner process, over the IPC channel Node sets up between a parent and
// the child it forks (a socketpair only the two of them hold). Both sides check every message they receive with the
// guards below (hand-written: the spawner loads no zod, to stay small) and ignore one that fails.

/** Daemon → spawner: start `file` (an absolute path) with `args` in `cwd`; stdin and stderr are /dev/null, stdout a pipe or too. */
export interface SpawnRequest {
  t: 'spawn';
  id: number;
  file: string;
  args: string[];
  cwd: string;
  stdout: boolean;
}

/** Daemon → spawner: send `signal` to the program of request `id` (nothing when it has exited). */
export interface KillRequest {
  t: 'kill';
  id: number;
  signal: string;
}

export type SpawnerRequest = SpawnRequest | KillRequest;

/** Spawner → daemon, once after it starts: it takes requests from now on. */
export interface ReadyReply {
  t: 'ready';
}

/**
 * Spawner → daemon: the program of request `id` runs as `pid`. With `stdout`, the message carries the read end of its
 * stdout pipe as a handle (SCM_RIGHTS): the daemon reads the program's output itself, nothing is relayed.
 */
export interface StartedReply {
  t: 'started';
  id: number;
  pid: number;
  stdout: boolean;
}

/** Spawner → daemon: the program of request `id` could not be started (`code`: the errno name, e.g. ENOENT, E2BIG). */
export interface ErrorReply {
  t: 'error';
  id: number;
  code: string;
}

/** Spawner → daemon: the program of request `id` has exited (its exit code, or the signal that ended it). */
export interface ExitReply {
  t: 'exit';
  id: number;
  code: number | null;
  signal: string | null;
}

export type SpawnerReply = ReadyReply | StartedReply | ErrorReply | ExitReply;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isText = (v: unknown): v is string => typeof v === 'string' && !v.includes('\0');

/** Whether a value the spawner received is a request it may act on (any other value is ignored). */
export function isSpawnerRequest(m: unknown): m is SpawnerRequest {
  if (!isRecord(m) || !isId(m.id)) return false;
  if (m.t === 'kill') return typeof m.signal === 'string' && /^SIG[A-Z0-9]+$/.test(m.signal);
  return (
    m.t === 'spawn' &&
    isText(m.file) &&
    m.file.startsWith('/') &&
    Array.isArray(m.args) &&
    m.args.every(isText) &&
    isText(m.cwd) &&
    m.cwd.startsWith('/') &&
    typeof m.stdout === 'boolean'
  );
}

/** Whether a value the daemon received from its spawner is a reply it may act on. */
export function isSpawnerReply(m: unknown): m is SpawnerReply {
  if (!isRecord(m)) return false;
  if (m.t === 'ready') return true;
  if (!isId(m.id)) return false;
  switch (m.t) {
    case 'started':
      return isId(m.pid) && typeof m.stdout === 'boolean';
    case 'error':
      return typeof m.code === 'string' && /^E[A-Z0-9]+$/.test(m.code);
    case 'exit':
      return (
        (m.code === null || (typeof m.code === 'number' && Number.isInteger(m.code))) &&
        (m.signal === null || (typeof m.signal === 'string' && /^SIG[A-Z0-9]+$/.test(m.signal)))
      );
    default:
      return false;
  }
}
