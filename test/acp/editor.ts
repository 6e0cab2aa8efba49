// An editor, as far as ACP goes: spawns the real `shadowbox acp` binary and drives it over its
// stdio with the official SDK's client side (or with raw lines, for protocol-error tests).
//
// Two bins: `node daemon/bin/shadowbox.js acp`, the bridge as a Node process of its own, and the native launcher
// (daemon/bin/shadowbox, what an installed `shadowbox` is), which relays the editor to the bridge the daemon hosts.
// The launcher runs with no `node` on PATH unless asked: a run that works there was relayed, not handed over.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import {
  client,
  ndJsonStream,
  type ClientContext,
  type ReadTextFileRequest,
  type ReadTextFileResponse,
  type RequestPermissionRequest,
  type RequestPermissionResponse,
  type SessionNotification,
} from '@agentclientprotocol/sdk';
import { launcherBin, NO_NODE_PATH, repoRoot, shadowboxBin } from '../helpers/daemon.js';

export type PermissionAnswerer = (
  q: RequestPermissionRequest,
  signal: AbortSignal,
) => Promise<RequestPermissionResponse>;

/** A running `shadowbox acp` process. */
export interface AcpProcess {
  child: ChildProcessWithoutNullStreams;
  stderr: () => string;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  /** Ends stdin (the editor going away) and waits for the exit. */
  close(): Promise<number | null>;
  kill(): Promise<void>;
}

/**
 * Which bin runs `shadowbox acp`: 'node' (the Node bridge), 'launcher' (the native relay to the daemon's bridge; no
 * `node` on PATH), or 'launcher+node' (the launcher with `node` on PATH, for the runs it hands over: no daemon).
 */
export type AcpVia = 'node' | 'launcher' | 'launcher+node';
/**
 * The bin an installed shadowbox runs, the launcher, when this checkout has one; else the Node bridge. The suites
 * that test what the bridge does (not how it is reached) run through it. Without a C compiler they run the Node
 * bridge, and test/launcher/acp.test.ts says the launcher was not tested.
 */
export const defaultVia: AcpVia = existsSync(launcherBin) ? 'launcher' : 'node';

/** Spawns `shadowbox acp` with the given environment, through the Node CLI or the launcher. */
export function spawnAcp(env: NodeJS.ProcessEnv, args: string[] = [], via: AcpVia = defaultVia): AcpProcess {
  const child =
    via === 'node'
      ? spawn(process.execPath, [shadowboxBin, 'acp', ...args], { env, cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(launcherBin, ['acp', ...args], {
          env: via === 'launcher' ? { ...env, PATH: NO_NODE_PATH } : env,
          cwd: repoRoot,
          stdio: ['pipe', 'pipe', 'pipe'],
        });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stderr: () => err,
    exited,
    async close() {
      child.stdin.end();
      return exited;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** The editor side over a spawned bridge: every session/update it received, and who answers permission questions. */
export interface AcpEditor {
  proc: AcpProcess;
  agent: ClientContext;
  updates: SessionNotification[];
  permissions: RequestPermissionRequest[];
  /** Replaces the permission answerer (default: cancelled). */
  answerWith(f: PermissionAnswerer): void;
  /** Updates of one session, by kind. */
  kinds(sessionId: string): string[];
  /** All stdout lines, raw (to check stdout carries only JSON-RPC). */
  stdoutLines: () => string[];
}

/** How the editor answers ACP `fs/read_text_file` (its buffers); without it the method is unknown to it. */
export type ReadTextFile = (p: ReadTextFileRequest, signal: AbortSignal) => Promise<ReadTextFileResponse>;

/** Spawns the bridge and connects the SDK's client side to its stdio (no initialize yet). */
export function connectEditor(
  env: NodeJS.ProcessEnv,
  opts: { readTextFile?: ReadTextFile; via?: AcpVia } = {},
): AcpEditor {
  const proc = spawnAcp(env, [], opts.via);
  const updates: SessionNotification[] = [];
  const permissions: RequestPermissionRequest[] = [];
  let answer: PermissionAnswerer = async () => ({ outcome: { outcome: 'cancelled' } });
  // Tee stdout: one copy to the SDK, one kept as raw lines.
  let raw = '';
  const forSdk = new Readable({ read() {} });
  proc.child.stdout.on('data', (d: Buffer) => {
    raw += d.toString();
    forSdk.push(d);
  });
  proc.child.stdout.on('end', () => forSdk.push(null));
  const stream = ndJsonStream(
    Writable.toWeb(proc.child.stdin) as WritableStream<Uint8Array>,
    Readable.toWeb(forSdk) as ReadableStream<Uint8Array>,
  );
  const builder = client({ name: 'test-editor' })
    .onNotification('session/update', ({ params }) => void updates.push(params))
    .onRequest('session/request_permission', ({ params, signal }) => {
      permissions.push(params);
      return answer(params, signal);
    });
  const conn = (
    opts.readTextFile
      ? builder.onRequest('fs/read_text_file', ({ params, signal }) => opts.readTextFile!(params, signal))
      : builder
  ).connect(stream);
  return {
    proc,
    agent: conn.agent,
    updates,
    permissions,
    answerWith: (f) => (answer = f),
    kinds: (sessionId) => updates.filter((u) => u.sessionId === sessionId).map((u) => u.update.sessionUpdate),
    stdoutLines: () => raw.split('\n').filter((l) => l.length > 0),
  };
}

/** Raw line access: write any line, read parsed JSON lines as they come. */
export function rawLines(proc: AcpProcess) {
  const lines: unknown[] = [];
  let buf = '';
  proc.child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.trim()) lines.push(JSON.parse(line));
    }
  });
  return {
    lines,
    send: (line: string) => proc.child.stdin.write(`${line}\n`),
    /** Waits for a message matching `pred`. */
    async next(pred: (m: Record<string, unknown>) => boolean, ms = 10_000): Promise<Record<string, unknown>> {
      const t = Date.now();
      for (;;) {
        const m = lines.find((l) => pred(l as Record<string, unknown>));
        if (m) return m as Record<string, unknown>;
        if (Date.now() - t > ms)
          throw new Error(
            `no matching message within ${ms} ms; got ${JSON.stringify(lines)}\nstderr: ${proc.stderr()}`,
          );
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}
