// The messages between the daemon and its spawner process, over the IPC channel Node sets up between a parent and
// the child it forks (a socketpair only the two of them hold). Both sides check every message they receive with the
// guards below (hand-written: the spawner loads no zod, to stay small) and ignore one that fails.

/** The descriptors of a program that may be pipes to the daemon: stdout, stderr and fd 3 (bubblewrap's status). */
export const PIPE_FDS = [1, 2, 3] as const;
export type PipeFd = (typeof PIPE_FDS)[number];

/**
 * Daemon → spawner: start `file` (an absolute path) with `args` in `cwd`. stdin is /dev/null; each fd in `pipes`
 * (ascending, from PIPE_FDS) is a pipe whose read end comes back to the daemon, every other one of fds 1–2 /dev/null.
 * `env`: the program's whole environment (absent: the spawner's own, which is the daemon's).
 */
export interface SpawnRequest {
  t: 'spawn';
  id: number;
  file: string;
  args: string[];
  cwd: string;
  pipes: PipeFd[];
  env?: Record<string, string>;
}

/** Daemon → spawner: send `signal` to the program of request `id` (nothing when it has exited). */
export interface KillRequest {
  t: 'kill';
  id: number;
  signal: string;
}

/**
 * Daemon → spawner: answer with a PongReply of the same `id`. Sent when a program killed with SIGKILL has not been
 * reported ended in time, to tell a spawner that is hung (no answer) from a program that is not ending (an answer).
 */
export interface PingRequest {
  t: 'ping';
  id: number;
}

export type SpawnerRequest = SpawnRequest | KillRequest | PingRequest;

/** Spawner → daemon, once after it starts: it takes requests from now on. */
export interface ReadyReply {
  t: 'ready';
}

/**
 * Spawner → daemon: the program of request `id` runs as `pid`. One PipeReply per fd of `pipes` follows (in that
 * order, before the program's exit), each carrying one pipe's read end.
 */
export interface StartedReply {
  t: 'started';
  id: number;
  pid: number;
  pipes: PipeFd[];
}

/**
 * Spawner → daemon: the read end of the program's pipe `fd`, as the message's handle (SCM_RIGHTS, one handle per
 * message): the daemon reads the program's output itself, nothing is relayed.
 */
export interface PipeReply {
  t: 'pipe';
  id: number;
  fd: PipeFd;
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

/** Spawner → daemon: the answer to a PingRequest (after every reply it sent before reading the ping). */
export interface PongReply {
  t: 'pong';
  id: number;
}

export type SpawnerReply = ReadyReply | StartedReply | PipeReply | ErrorReply | ExitReply | PongReply;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
const isText = (v: unknown): v is string => typeof v === 'string' && !v.includes('\0');
const isPipeFd = (v: unknown): v is PipeFd => PIPE_FDS.includes(v as PipeFd);
/** Pipe fds, each once, ascending. */
const isPipes = (v: unknown): v is PipeFd[] =>
  Array.isArray(v) && v.every((fd, i) => isPipeFd(fd) && (i === 0 || fd > (v[i - 1] as number)));

/**
 * Whether `env` is an environment a program may be given: string names (not empty, no `=`, no NUL) and string values
 * (no NUL). Checked before a spawn in both paths: Node's own spawn throws on a NUL, and the spawner would ignore the
 * request.
 */
export function isProgramEnv(env: unknown): env is Record<string, string> {
  if (!isRecord(env)) return false;
  return Object.entries(env).every(([k, v]) => k !== '' && isText(k) && !k.includes('=') && isText(v));
}

/** Whether a value the spawner received is a request it may act on (any other value is ignored). */
export function isSpawnerRequest(m: unknown): m is SpawnerRequest {
  if (!isRecord(m) || !isId(m.id)) return false;
  if (m.t === 'kill') return typeof m.signal === 'string' && /^SIG[A-Z0-9]+$/.test(m.signal);
  if (m.t === 'ping') return true;
  return (
    m.t === 'spawn' &&
    isText(m.file) &&
    m.file.startsWith('/') &&
    Array.isArray(m.args) &&
    m.args.every(isText) &&
    isText(m.cwd) &&
    m.cwd.startsWith('/') &&
    isPipes(m.pipes) &&
    (m.env === undefined || isProgramEnv(m.env))
  );
}

/** Whether a value the daemon received from its spawner is a reply it may act on. */
export function isSpawnerReply(m: unknown): m is SpawnerReply {
  if (!isRecord(m)) return false;
  if (m.t === 'ready') return true;
  if (!isId(m.id)) return false;
  switch (m.t) {
    case 'started':
      return isId(m.pid) && isPipes(m.pipes);
    case 'pipe':
      return isPipeFd(m.fd);
    case 'pong':
      return true;
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
