// The spawner process: a small Node process the daemon forks once, which starts programs on its behalf. Node's
// child_process forks on Linux (libuv 1.46), and a fork blocks the forking thread for a time that grows with the
// process's resident memory (page tables copied): ~4 ms from the idle daemon, ~10 at 200 MiB, ~24 at 550 MiB, against
// ~1 ms from a process this size. Each of the program's pipes (stdout, stderr, fd 3) goes back to the daemon as a
// handle (SCM_RIGHTS), so the daemon reads the output itself. Requests come only over the IPC channel from the parent
// (the only other holder of that socketpair); when it closes (the daemon stopped or died), every program still running
// is killed and this process exits: no orphans.
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import { errnoOf, stdioOf } from './direct.js';
import { isSpawnerRequest, type SpawnerReply, type SpawnRequest } from './ipc.js';

const running = new Map<number, ChildProcess>();

// The daemon's NODE_OPTIONS, kept off this process (spawnerEnv), is the programs' again.
const nodeOptions = process.env.SHADOWBOX_SPAWNER_NODE_OPTIONS;
delete process.env.SHADOWBOX_SPAWNER_NODE_OPTIONS;
if (nodeOptions !== undefined) process.env.NODE_OPTIONS = nodeOptions;

/** Sends a reply; a failed send (the channel closed meanwhile) is the disconnect handler's to clean up. */
function reply(m: SpawnerReply, handle?: Socket): void {
  if (!process.connected) return;
  process.send!(m, handle, undefined, () => undefined);
}

/** The libuv handle under a child's pipe socket, which Node starts reading as it wraps it. */
type PipeHandle = { reading?: boolean; readStop?: () => number };

function start(r: SpawnRequest): void {
  let child: ChildProcess;
  try {
    child = spawn(r.file, r.args, {
      cwd: r.cwd,
      stdio: stdioOf(r.pipes),
      ...(r.env ? { env: r.env } : {}),
      windowsHide: true,
    });
  } catch (e) {
    // Thrown at once: E2BIG, EINVAL, … (ENOENT and EACCES come as an 'error' event).
    reply({ t: 'error', id: r.id, code: errnoOf(e) });
    return;
  }
  let settled = false;
  child.once('error', (e) => {
    if (settled) return;
    settled = true;
    running.delete(r.id);
    reply({ t: 'error', id: r.id, code: errnoOf(e) });
  });
  if (child.pid === undefined) return; // the 'error' event follows
  running.set(r.id, child);
  child.once('exit', (code, signal) => {
    if (settled) return;
    settled = true;
    running.delete(r.id);
    reply({ t: 'exit', id: r.id, code, signal });
  });
  const refuse = () => {
    child.kill('SIGKILL');
    settled = true;
    running.delete(r.id);
    reply({ t: 'error', id: r.id, code: 'ENOTSUP' });
  };
  // A child's stdio pipe is a net.Socket (over a socketpair), which is what a handle sent to the daemon must be.
  const pipes = r.pipes.map((fd) => {
    const socket = child.stdio[fd];
    const handle = socket instanceof Socket ? (socket as unknown as { _handle?: PipeHandle })._handle : undefined;
    return { fd, socket, handle };
  });
  // Not the Node this was written for: fail the run rather than risk a partial output.
  if (pipes.some((p) => !(p.socket instanceof Socket) || typeof p.handle?.readStop !== 'function')) {
    refuse();
    return;
  }
  // No pipe may be read here: Node starts reading a child's pipe as it wraps it, and what it read before the handle
  // left would be lost. Each is stopped as net.Socket's own pauseOnCreate does, within the same turn as the spawn.
  for (const { handle } of pipes) {
    handle!.reading = false;
    handle!.readStop!();
  }
  // Node keeps the order of a channel's messages: the daemon gets `started`, then each pipe, then the exit.
  reply({ t: 'started', id: r.id, pid: child.pid, pipes: r.pipes });
  for (const { fd, socket } of pipes) reply({ t: 'pipe', id: r.id, fd }, socket as Socket);
}

process.on('message', (m: unknown) => {
  if (!isSpawnerRequest(m)) return; // only well-formed requests from the parent are acted on
  if (m.t === 'spawn') start(m);
  else if (m.t === 'ping') reply({ t: 'pong', id: m.id });
  else {
    try {
      running.get(m.id)?.kill(m.signal as NodeJS.Signals);
    } catch {
      // a signal name this system does not know: nothing to do
    }
  }
});

// The daemon is gone (stopped, crashed or killed): nothing it started may outlive it.
process.on('disconnect', () => {
  for (const child of running.values()) child.kill('SIGKILL');
  process.exit(0);
});
// A Ctrl-C in the daemon's terminal reaches the whole process group: the daemon decides when this process ends.
process.on('SIGINT', () => undefined);

if (!process.send) process.exit(2); // started without an IPC channel: nothing to serve
reply({ t: 'ready' });
