// The daemon's side of the spawner process (child.ts): forks it once (on first need, or when warmed), sends it
// requests over the IPC channel, and reads each program's pipes (stdout, stderr, fd 3) from the handles it sends back. Until it is ready
// runs are direct (spawnDirect); when it dies, the runs it had fail (spawner_exited) and the next run starts it again;
// after MAX_DEATHS deaths, runs stay direct for the daemon's life. Idle for `idleMs`, it is stopped (its ~40–55 MiB
// given back) and the next run starts it again.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { KILL_WAIT_MS, notEnded, pipesOf, spawnDirect } from './direct.js';
import {
  isSpawnerReply,
  isSpawnerRequest,
  type PipeFd,
  type SpawnerReply,
  type SpawnerRequest,
  type SpawnRequest,
} from './ipc.js';
import { SpawnError, type ProgramExit, type ProgramOptions, type RunningProgram, type Spawner } from './types.js';

/** Set by scripts/bundle.mjs in the daemon's bundle: the spawner's single-file build, relative to this file's folder. */
declare const SHADOWBOX_SPAWNER_BUNDLE: string | undefined;

/**
 * The spawner's entry: in the daemon's bundle, its own bundle beside it; otherwise the compiled child.js beside this
 * file in dist/; when this file runs from src/ (vitest), the copy in dist/ that vitest's globalSetup compiled.
 */
export function spawnerEntry(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  if (typeof SHADOWBOX_SPAWNER_BUNDLE === 'string') {
    const bundled = join(here, SHADOWBOX_SPAWNER_BUNDLE);
    if (existsSync(bundled)) return bundled;
  }
  const beside = join(here, 'child.js');
  if (existsSync(beside)) return beside;
  return join(here.replace(/([\\/])src([\\/]spawner)$/, '$1dist$2'), 'child.js');
}

/**
 * V8 flags of the spawner process: a small heap (it holds one request at a time; a 16,384-path rg run is ~0.5 MiB of
 * arguments) and a young generation that stays small. Measured in docs/benchmarks.md (run 21).
 */
export const SPAWNER_NODE_FLAGS = ['--max-old-space-size=32', '--max-semi-space-size=1'];
/** Deaths after which runs stay direct (a spawner that keeps dying must not fail every grep). */
const MAX_DEATHS = 3;
/** How long the spawner process is kept without a run (ms): an agent's greps come in bursts within a turn. */
const IDLE_MS = 5 * 60_000;

/** Options of createSpawner. */
export interface SpawnerOptions {
  /** 'direct': never fork a spawner process (every run is a direct spawn). Default 'process'. */
  mode?: 'process' | 'direct';
  /** The spawner's entry script (default spawnerEntry()). */
  entry?: string;
  /** Where a death of the spawner is reported. */
  logger?: { warn(msg: string): void };
  /** Stop the spawner process after this long without a run (ms, default 5 min); the next run starts it again. */
  idleMs?: number;
  /** The environment of the spawner and so of the programs it starts (default process.env, as a direct spawn has). */
  env?: NodeJS.ProcessEnv;
  /** How long after a SIGKILL request a run's exit may take before the spawner is taken for hung (ms, default 5 s). */
  killWaitMs?: number;
}

/**
 * The spawner's environment: `env`, except that NODE_OPTIONS (a `--require`, an `--inspect`, …) is not applied to the
 * spawner itself; it passes as SHADOWBOX_SPAWNER_NODE_OPTIONS, which the spawner puts back for the programs it starts.
 */
export function spawnerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_OPTIONS, ...rest } = env;
  return NODE_OPTIONS === undefined ? rest : { ...rest, SHADOWBOX_SPAWNER_NODE_OPTIONS: NODE_OPTIONS };
}

interface Pending {
  file: string;
  /** The handler of each pipe the run asked for, by fd. */
  pipes: Map<PipeFd, (chunk: Buffer) => void>;
  resolve: (e: ProgramExit) => void;
  reject: (e: Error) => void;
  /** Whether `started` came (the pipes follow it). */
  started: boolean;
  /** The pipes whose handle arrived. */
  sockets: Map<PipeFd, Socket>;
  /** Pipes not yet read to their end (those not arrived yet included). */
  open: number;
  exit?: ProgramExit;
}

/** The daemon's spawner: runs programs from a small process, so each fork copies its page tables, not the daemon's. */
export function createSpawner(options: SpawnerOptions = {}): Spawner {
  let child: ChildProcess | null = null;
  let ready = false;
  let deaths = 0;
  let closed = options.mode === 'direct';
  let nextId = 1;
  const pending = new Map<number, Pending>();
  let idleTimer: NodeJS.Timeout | undefined;
  /** The process being stopped for want of work (its exit is no death). */
  let retired: ChildProcess | null = null;
  /** Runs whose SIGKILL is being waited on (one wait each, however many kills). */
  const killWaits = new Set<number>();
  /** What to do when the spawner answers the ping of a run, by run id. */
  const pings = new Map<number, () => void>();
  /** A first need's run is out: the process starts once it has ended. */
  let startAfterRun = false;

  const settle = (id: number, p: Pending) => {
    if (p.open > 0 || !p.exit) return;
    pending.delete(id);
    idle();
    p.resolve(p.exit);
  };
  const fail = (id: number, p: Pending, e: Error) => {
    pending.delete(id);
    idle();
    for (const socket of p.sockets.values()) socket.destroy();
    p.reject(e);
  };
  // The channel keeps the daemon's event loop alive only while a run is out (an idle spawner never holds it open).
  const idle = () => {
    if (pending.size === 0 && child) {
      const c = child;
      c.unref();
      c.channel?.unref();
      clearTimeout(idleTimer);
      if (!ready) return; // counted from when it is ready
      idleTimer = setTimeout(() => {
        if (child !== c || pending.size > 0) return;
        retired = c;
        child = null;
        ready = false;
        if (c.connected) c.disconnect(); // it exits on its own
      }, options.idleMs ?? IDLE_MS);
      idleTimer.unref();
    }
  };
  const busy = (c: ChildProcess) => {
    clearTimeout(idleTimer);
    c.ref();
    c.channel?.ref();
  };

  const onReply = (m: SpawnerReply, handle: unknown) => {
    if (m.t === 'ready') {
      ready = true;
      idle();
      return;
    }
    if (m.t === 'pong') {
      pings.get(m.id)?.();
      pings.delete(m.id);
      return;
    }
    const p = pending.get(m.id);
    if (!p) {
      if (handle instanceof Socket) handle.destroy();
      return;
    }
    // A reply out of turn: the run fails, and its program (if any) is not left running.
    const protocolError = () => {
      send({ t: 'kill', id: m.id, signal: 'SIGKILL' });
      fail(m.id, p, new SpawnError('EPROTO', p.file));
    };
    if (m.t === 'error') fail(m.id, p, new SpawnError(m.code, p.file));
    else if (m.t === 'exit') {
      p.exit = { code: m.code, signal: m.signal as NodeJS.Signals | null };
      settle(m.id, p);
    } else if (m.t === 'started') {
      if (p.started || m.pipes.join() !== [...p.pipes.keys()].join()) protocolError();
      else p.started = true;
    } else {
      const onData = p.pipes.get(m.fd);
      if (!(handle instanceof Socket) || !p.started || !onData || p.sockets.has(m.fd)) {
        if (handle instanceof Socket) handle.destroy();
        protocolError();
        return;
      }
      p.sockets.set(m.fd, handle);
      handle.on('data', onData);
      handle.on('error', () => undefined); // 'close' follows: the output ends there
      handle.once('close', () => {
        p.open--;
        settle(m.id, p);
      });
    }
  };

  const start = () => {
    let c: ChildProcess;
    try {
      c = fork(options.entry ?? spawnerEntry(), [], {
        execArgv: SPAWNER_NODE_FLAGS,
        env: spawnerEnv(options.env ?? process.env),
        // stdout is never the spawner's: under `daemon --stdio` it carries the protocol. Its stderr is the daemon's log.
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
    } catch {
      deaths++;
      if (deaths >= MAX_DEATHS) closed = true;
      return;
    }
    child = c;
    ready = false;
    idle();
    c.on('message', (m: unknown, handle: unknown) => {
      if (child === c && isSpawnerReply(m)) onReply(m, handle);
      else if (handle instanceof Socket) handle.destroy();
    });
    c.on('error', () => undefined); // a failed send: the exit below settles what was out
    c.once('exit', (code, signal) => {
      if (retired === c) retired = null;
      if (child !== c) return;
      child = null;
      ready = false;
      pings.clear();
      if (!closed) {
        deaths++;
        options.logger?.warn(
          `the spawner process exited (${signal ?? `code ${code}`}); ${deaths >= MAX_DEATHS ? 'programs now start directly' : 'the next run starts it again'}`,
        );
        if (deaths >= MAX_DEATHS) closed = true;
      }
      const err = new ShadowboxError(
        ErrorCodes.ToolFailed,
        'spawner_exited',
        'the process that starts programs for the daemon exited during the call; the next call starts it again',
      );
      for (const [id, p] of pending) fail(id, p, err);
    });
  };

  const send = (m: SpawnerRequest) => {
    if (child?.connected) child.send(m, undefined, undefined, () => undefined);
  };

  /** A killed run that has exited ends with its exit, its pipes (held open by a descendant) closed unread. */
  const endKilled = (id: number, p: Pending) => {
    for (const socket of p.sockets.values()) socket.destroy();
    p.open = 0;
    settle(id, p);
  };
  /** After a SIGKILL for run `id` of process `c` was sent: see KILL_WAIT_MS. */
  const awaitKill = (id: number, c: ChildProcess) => {
    if (killWaits.has(id)) return;
    killWaits.add(id);
    const wait = options.killWaitMs ?? KILL_WAIT_MS;
    const killed = performance.now();
    // Decided once what has come in is read (setImmediate), as the ping's deadline below: a daemon busy past the wait
    // would otherwise ping about a program whose exit was in, unread, or cut the end of output already there.
    const decide = () => {
      killWaits.delete(id);
      const p = pending.get(id);
      if (!p || child !== c) return;
      if (p.exit) return endKilled(id, p);
      // Decided once what has come in is read: timers run before I/O in a turn of the event loop, so a daemon busy
      // past the deadline would take a spawner whose pong waits unread for hung. An answered ping is gone from pings.
      const hung = setTimeout(
        () =>
          setImmediate(() => {
            if (!pings.delete(id) || !pending.has(id) || child !== c) return;
            options.logger?.warn('the spawner process did not report a killed program’s exit, nor answer: killing it');
            c.kill('SIGKILL');
          }),
        wait,
      );
      hung.unref();
      pings.set(id, () => {
        clearTimeout(hung);
        const q = pending.get(id);
        if (!q) return;
        if (q.exit) return endKilled(id, q);
        options.logger?.warn(`a killed program (${q.file}) has not ended: its run fails, the spawner goes on`);
        fail(id, q, notEnded(q.file, performance.now() - killed));
      });
      send({ t: 'ping', id });
    };
    setTimeout(() => setImmediate(decide), wait).unref();
  };

  return {
    spawn(file, args, o: ProgramOptions): RunningProgram {
      if (closed || !ready || !child?.connected) {
        const run = spawnDirect(file, args, o, options.killWaitMs ?? KILL_WAIT_MS);
        // With no process yet, it starts once this run has ended, not beside it: its Node start shared two cores with
        // the run (a fresh daemon's first grep as a direct call, no turn to start it first: 1.43× the spawner off
        // when it started beside the first rg run, 1.31× after it; benchmarks.md run 35). A second run while that one
        // is still out (a long command) starts it at once: runs would otherwise fork the daemon for as long as it runs.
        if (!closed && !child) {
          if (startAfterRun) start();
          else {
            startAfterRun = true;
            void run.exited
              .catch(() => undefined)
              .then(() => {
                startAfterRun = false;
                if (!closed && !child) start();
              });
          }
        }
        return run;
      }
      const id = nextId++;
      const c = child;
      const pipes = pipesOf(o);
      const request: SpawnRequest = {
        t: 'spawn',
        id,
        file,
        args: [...args],
        cwd: o.cwd,
        pipes: pipes.map(([fd]) => fd),
        ...(o.env ? { env: { ...o.env } } : {}),
      };
      // The spawner ignores a request it cannot act on (a relative path, a NUL): refused here, not left unanswered.
      if (!isSpawnerRequest(request)) return { exited: Promise.reject(new SpawnError('EINVAL', file)), kill: () => {} };
      const exited = new Promise<ProgramExit>((resolve, reject) => {
        pending.set(id, {
          file,
          pipes: new Map(pipes),
          resolve,
          reject,
          started: false,
          sockets: new Map(),
          open: pipes.length,
        });
      });
      busy(c);
      send(request);
      return {
        exited,
        kill: (signal = 'SIGTERM') => {
          if (!pending.has(id) || child !== c) return;
          send({ t: 'kill', id, signal });
          if (signal === 'SIGKILL') awaitKill(id, c);
        },
      };
    },
    warm() {
      if (!closed && !child) start();
    },
    state: () => (closed ? 'direct' : ready ? 'ready' : child ? 'starting' : 'stopped'),
    async close() {
      closed = true;
      clearTimeout(idleTimer);
      const c = child ?? retired;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise<void>((r) => c.once('exit', () => r()));
      if (c.connected) c.disconnect(); // it kills what it still runs and exits
      const timer = setTimeout(() => c.kill('SIGKILL'), 2000);
      await gone;
      clearTimeout(timer);
    },
  };
}
