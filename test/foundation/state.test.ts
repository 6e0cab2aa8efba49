import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DaemonStatus, ErrorCodes, PROTOCOL_VERSION } from '@shadowbox/protocol';
import { makeTempDir, runCli, shadowboxBin, startTestDaemon, until } from '../helpers/daemon.js';

/** The environment a daemon child gets: only the state dir (and socket) we choose, nothing inherited that changes them. */
function daemonEnv(stateDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SHADOWBOX_STATE_DIR: stateDir, ...extra };
  delete env.NODE_OPTIONS;
  delete env.SHADOWBOX_WS_PORT;
  delete env.SHADOWBOX_MAX_MESSAGE_BYTES;
  if (!extra.SHADOWBOX_SOCKET) delete env.SHADOWBOX_SOCKET;
  return env;
}

const mode = async (p: string) => (await stat(p)).mode & 0o777;

/** The pid of a process that has already exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  const pid = child.pid!;
  expect(() => process.kill(pid, 0)).toThrow();
  return pid;
}

/** Spawns `shadowbox daemon ARGS` and resolves with its exit code and stderr. */
function runDaemonToExit(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [shadowboxBin, 'daemon', ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

/** Reads LSP-framed messages from a stream, failing loudly on anything that is not a frame (stdout is protocol-only). */
function lspReader(stream: NodeJS.ReadableStream) {
  let buf = Buffer.alloc(0);
  const messages: Array<Record<string, unknown>> = [];
  const garbage: string[] = [];
  stream.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) break;
      const header = buf.subarray(0, end).toString();
      const m = /^Content-Length: (\d+)$/im.exec(header);
      if (!m) {
        garbage.push(header);
        buf = buf.subarray(end + 4);
        continue;
      }
      const len = Number(m[1]);
      if (buf.length < end + 4 + len) break;
      messages.push(JSON.parse(buf.subarray(end + 4, end + 4 + len).toString()) as Record<string, unknown>);
      buf = buf.subarray(end + 4 + len);
    }
  });
  return {
    messages,
    garbage,
    waitFor: async (n: number, ms = 10_000) => {
      await until(() => messages.length >= n, ms);
      return messages;
    },
  };
}

const frame = (body: string | Buffer) => {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`), b]);
};
const init = (id: number) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: PROTOCOL_VERSION, clientInfo: { name: 'state-test', kind: 'test' } },
  });

describe('state dir, file modes and the web port file', () => {
  it('creates the state dir 0700, the socket and ws.token 0600, and web.port holding the port daemon/status reports', async () => {
    const root = await makeTempDir();
    // A state dir that does not exist yet: the daemon creates it.
    const stateDir = path.join(root, 'st');
    const d = await startTestDaemon({ stateDir });
    try {
      expect(await mode(stateDir)).toBe(0o700);
      expect((await stat(d.socketPath)).isSocket()).toBe(true);
      expect(await mode(d.socketPath)).toBe(0o600);
      expect(await mode(path.join(stateDir, 'ws.token'))).toBe(0o600);
      expect(d.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      // Nothing else in the state dir is readable by group or others either.
      for (const f of ['daemon.lock', 'daemon.log', 'web.port'])
        expect((await mode(path.join(stateDir, f))) & 0o077).toBe(0);

      const c = await d.connect('modes');
      const s = await c.request(DaemonStatus, {});
      expect(s.webUrl).toBe(d.webUrl);
      const port = Number(new URL(s.webUrl!).port);
      expect(port).toBeGreaterThan(0);
      expect((await readFile(path.join(stateDir, 'web.port'), 'utf8')).trim()).toBe(String(port));
      c.dispose();
    } finally {
      await d.stop();
      await d.cleanup();
      await rm(root, { recursive: true, force: true });
    }
  });

  // Issue 14 §5: the daemon chmod'ed whatever folder it was given (SHADOWBOX_STATE_DIR=$HOME became 0700).
  it('leaves the mode of an existing state dir alone (a stand-in for $HOME) and says how to tighten it', async () => {
    const stateDir = await makeTempDir();
    await chmod(stateDir, 0o755);
    const d = await startTestDaemon({ stateDir, web: false });
    try {
      expect(await mode(stateDir)).toBe(0o755);
      expect(await readFile(path.join(stateDir, 'daemon.log'), 'utf8')).toContain(`chmod 700 ${stateDir}`);
    } finally {
      await d.stop();
      await d.cleanup();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

// Issue 14 §5: with SHADOWBOX_SOCKET=/tmp/s.sock the daemon turned /tmp into 0700, and with a socket in `/` the
// machine's root; it also removed a regular file at the socket path. Temp folders stand in for /tmp and /.
describe('the daemon never damages what it does not own', () => {
  it('refuses a socket or state dir in a shared folder (a stand-in for /tmp), whose mode stays 1777', async () => {
    const shared = await makeTempDir('shared');
    await chmod(shared, 0o1777);
    const stateDir = await makeTempDir();
    try {
      const sock = await runDaemonToExit(
        ['--no-web'],
        daemonEnv(stateDir, { SHADOWBOX_SOCKET: path.join(shared, 's.sock') }),
      );
      expect(sock.code).not.toBe(0);
      expect(sock.stderr).toContain(`the socket folder ${shared} can be written by other users (mode 1777)`);
      expect(sock.stderr).toContain(path.join(shared, `shadowbox-${process.getuid?.() ?? 'me'}`, 's.sock'));
      expect((await stat(shared)).mode & 0o7777).toBe(0o1777);
      const state = await runDaemonToExit(['--no-web'], daemonEnv(shared));
      expect(state.code).not.toBe(0);
      expect(state.stderr).toContain(`the state folder ${shared} can be written by other users`);
      expect((await stat(shared)).mode & 0o7777).toBe(0o1777);
      // The suggested private subfolder works: created 0700 by the daemon inside the shared one.
      const privateSock = path.join(shared, `shadowbox-${process.getuid?.() ?? 'me'}`, 's.sock');
      const d = await startTestDaemon({ stateDir, web: false, env: { SHADOWBOX_SOCKET: privateSock } });
      try {
        expect(await mode(path.dirname(privateSock))).toBe(0o700);
        expect((await stat(privateSock)).isSocket()).toBe(true);
      } finally {
        await d.stop();
      }
      expect((await stat(shared)).mode & 0o7777).toBe(0o1777);
    } finally {
      await rm(shared, { recursive: true, force: true });
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a socket in a folder of ours that others cannot write (a stand-in for /) leaves that folder 0755', async () => {
    const root = await makeTempDir('root');
    await chmod(root, 0o755);
    const stateDir = await makeTempDir();
    try {
      const d = await startTestDaemon({ stateDir, web: false, env: { SHADOWBOX_SOCKET: path.join(root, 's.sock') } });
      try {
        expect((await stat(path.join(root, 's.sock'))).isSocket()).toBe(true);
        expect(await mode(root)).toBe(0o755);
      } finally {
        await d.stop();
      }
      expect(await mode(root)).toBe(0o755);
    } finally {
      await rm(root, { recursive: true, force: true });
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('never removes a regular file at the socket path', async () => {
    const stateDir = await makeTempDir();
    const socketPath = path.join(stateDir, 'daemon.sock');
    await writeFile(socketPath, 'my notes, not a socket');
    try {
      const r = await runDaemonToExit(['--no-web'], daemonEnv(stateDir, { SHADOWBOX_SOCKET: socketPath }));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(`${socketPath} exists and is not a socket`);
      expect(await readFile(socketPath, 'utf8')).toBe('my notes, not a socket');
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

describe('the daemon lock', () => {
  it('takes over a stale lock (and socket file) left by a process that has exited', async () => {
    const stateDir = await makeTempDir();
    const pid = await deadPid();
    const socketPath = path.join(stateDir, 'daemon.sock');
    // Exactly what state/lock.ts writes, for a daemon that died without cleaning up.
    await writeFile(
      path.join(stateDir, 'daemon.lock'),
      JSON.stringify({
        pid,
        socketPath,
        webUrl: 'http://127.0.0.1:1/',
        startedAt: new Date(Date.now() - 60_000).toISOString(),
        version: '0.0.0',
      }),
      { mode: 0o600 },
    );
    // A socket file nobody listens on: bound by a process killed before it could remove it.
    const binder = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    await new Promise((r) => binder.once('exit', r));
    expect((await stat(socketPath)).isSocket()).toBe(true);
    const d = await startTestDaemon({ stateDir, web: false });
    try {
      const lock = JSON.parse(await readFile(path.join(stateDir, 'daemon.lock'), 'utf8')) as {
        pid: number;
        socketPath: string;
      };
      expect(lock.pid).toBe(d.pid);
      expect(lock.socketPath).toBe(socketPath);
      expect((await stat(socketPath)).isSocket()).toBe(true);
      const c = await d.connect('after-stale');
      expect((await c.request(DaemonStatus, {})).pid).toBe(d.pid);
      c.dispose();
    } finally {
      await d.stop();
      await d.cleanup();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('takes over after a daemon was SIGKILLed (lock and socket left behind)', async () => {
    const stateDir = await makeTempDir();
    const first = await startTestDaemon({ stateDir, web: false });
    await first.kill();
    expect(existsSync(path.join(stateDir, 'daemon.lock'))).toBe(true);
    const second = await startTestDaemon({ stateDir, web: false });
    try {
      expect(second.pid).not.toBe(first.pid);
      const st = await runCli(['status', '--json'], second.env);
      expect(st.code).toBe(0);
      expect(JSON.parse(st.stdout)).toMatchObject({ running: true, pid: second.pid });
    } finally {
      await second.stop();
      await second.cleanup();
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('refuses a second daemon on a live lock with one clear sentence, and the first keeps running', async () => {
    const d = await startTestDaemon();
    try {
      const lockBefore = await readFile(path.join(d.stateDir, 'daemon.lock'), 'utf8');
      const second = await runDaemonToExit(['--no-web'], d.env);
      expect(second.code).not.toBe(0);
      expect(second.code).not.toBeNull();
      const lines = second.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(
          `^shadowbox daemon: a shadowbox daemon is already running for this state dir \\(pid ${d.pid}, socket ${d.socketPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, web \\S+\\)`,
        ),
      );
      expect(second.stderr).not.toMatch(/\n\s+at /); // no stack trace
      // The refused start touched nothing of the running daemon.
      expect(await readFile(path.join(d.stateDir, 'daemon.lock'), 'utf8')).toBe(lockBefore);
      expect((await stat(d.socketPath)).isSocket()).toBe(true);
      const c = await d.connect('still-there');
      expect((await c.request(DaemonStatus, {})).pid).toBe(d.pid);
      c.dispose();
    } finally {
      expect(await d.stop()).toBe(0);
      await d.cleanup();
    }
  });
});

describe('WebSocket size cap', () => {
  it('closes only the connection that sent an oversized frame with 1009; the daemon and other clients carry on', async () => {
    const d = await startTestDaemon({ args: ['--max-message-bytes', '4096'] });
    try {
      const url = new URL('/rpc', d.webUrl!.replace('http', 'ws'));
      const open = async () => {
        const ws = new WebSocket(url, ['shadowbox.v1'], { headers: { Authorization: `Bearer ${d.token}` } });
        const got: Array<Record<string, unknown>> = [];
        ws.on('message', (m: Buffer) => got.push(JSON.parse(m.toString()) as Record<string, unknown>));
        ws.on('error', () => undefined);
        const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
        await new Promise((r) => ws.once('open', r));
        return { ws, got, closed };
      };
      const bystander = await open();
      bystander.ws.send(init(1));
      await until(() => bystander.got.length >= 1);
      expect(bystander.got[0]).toMatchObject({ id: 1, result: { clientId: expect.any(String) } });

      const big = await open();
      big.ws.send(init(1));
      await until(() => big.got.length >= 1);
      const payload = JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'daemon/status',
        params: { pad: 'x'.repeat(8 * 1024) },
      });
      expect(payload.length).toBeGreaterThan(8 * 1024);
      big.ws.send(payload);
      expect(await big.closed).toBe(1009);
      expect(big.got.find((m) => m.id === 2)).toBeUndefined();

      // The other client is unaffected, and the daemon still accepts new ones.
      bystander.ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'daemon/status', params: {} }));
      await until(() => bystander.got.length >= 2);
      expect(bystander.got[1]).toMatchObject({ id: 2, result: { pid: d.pid } });
      // A message just under the cap still goes through.
      bystander.ws.send(
        JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'bogus/method', params: { pad: 'y'.repeat(3000) } }),
      );
      await until(() => bystander.got.length >= 3);
      expect(bystander.got[2]).toMatchObject({ id: 3, error: { code: ErrorCodes.MethodNotFound } });
      const fresh = await open();
      fresh.ws.send(init(1));
      await until(() => fresh.got.length >= 1);
      expect(fresh.got[0]).toMatchObject({
        id: 1,
        result: { clientId: expect.any(String), capabilities: { maxMessageBytes: 4096 } },
      });
      const c = await d.connect('socket-after');
      const s = await c.request(DaemonStatus, {});
      expect(s.clients.filter((x) => x.transport === 'websocket')).toHaveLength(2);
      c.dispose();
      bystander.ws.close();
      fresh.ws.close();
      expect(d.child.exitCode).toBeNull();
    } finally {
      await d.stop();
      await d.cleanup();
    }
  });
});

describe('--socket PATH', () => {
  it('listens on the given path (folder 0700, socket 0600) and shadowbox status finds it there', async () => {
    const stateDir = await makeTempDir();
    const other = await makeTempDir('sock');
    const socketPath = path.join(other, 'sub', 'custom.sock');
    const env = daemonEnv(stateDir);
    const child = spawn(process.execPath, [shadowboxBin, 'daemon', '--no-web', '--socket', socketPath], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      expect(await until(() => err.includes('shadowbox daemon ready'), 20_000)).toBe(true);
      expect(err).toContain(`socket ${socketPath}`);
      expect((await stat(socketPath)).isSocket()).toBe(true);
      expect(await mode(socketPath)).toBe(0o600);
      expect(await mode(path.dirname(socketPath))).toBe(0o700);
      expect(existsSync(path.join(stateDir, 'daemon.sock'))).toBe(false);

      const st = await runCli(['status', '--json'], daemonEnv(stateDir, { SHADOWBOX_SOCKET: socketPath }));
      expect(st.code).toBe(0);
      expect(JSON.parse(st.stdout)).toMatchObject({ running: true, pid: child.pid, socketPath });
      const human = await runCli(['status'], daemonEnv(stateDir, { SHADOWBOX_SOCKET: socketPath }));
      expect(human.stdout).toContain(`socket:    ${socketPath}`);
      // `stop` finds it the same way, and the socket goes away.
      const stop = await runCli(['stop'], daemonEnv(stateDir, { SHADOWBOX_SOCKET: socketPath }));
      expect(stop.code).toBe(0);
      expect(await exited).toBe(0);
      expect(existsSync(socketPath)).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      await rm(stateDir, { recursive: true, force: true });
      await rm(other, { recursive: true, force: true });
    }
  });
});

describe('stdio bad input', () => {
  it('parse error keeps the link, unknown method is -32601, an oversized Content-Length is refused unread, exit ends with 0', async () => {
    const stateDir = await makeTempDir();
    const child: ChildProcess = spawn(
      process.execPath,
      [shadowboxBin, 'daemon', '--stdio', '--max-message-bytes', '4096'],
      { env: daemonEnv(stateDir), stdio: ['pipe', 'pipe', 'pipe'] },
    );
    child.stderr!.resume();
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const out = lspReader(child.stdout!);
    const send = (b: string | Buffer) => child.stdin!.write(Buffer.isBuffer(b) ? b : frame(b));
    try {
      send('{"jsonrpc": "2.0", "id": 1, "method": ');
      let msgs = await out.waitFor(1);
      expect(msgs[0]).toMatchObject({ id: null, error: { code: ErrorCodes.ParseError } });

      send(init(2));
      send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'no/such/method', params: {} }));
      msgs = await out.waitFor(3);
      expect(msgs.find((m) => m.id === 2)).toMatchObject({
        result: { protocolVersion: PROTOCOL_VERSION, clientId: expect.any(String) },
      });
      expect(msgs.find((m) => m.id === 3)).toMatchObject({ error: { code: ErrorCodes.MethodNotFound } });

      // Header only: the refusal must arrive before any of the body is sent.
      const size = 8 * 1024;
      send(Buffer.from(`Content-Length: ${size}\r\n\r\n`));
      msgs = await out.waitFor(4);
      expect(msgs[3]).toMatchObject({
        id: null,
        error: { code: ErrorCodes.MessageTooLarge, data: { reason: 'message_too_large' } },
      });
      // Its body is skipped, and the link carries on.
      send(
        Buffer.from(
          JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'daemon/status', params: { pad: 'z'.repeat(size) } }).slice(
            0,
            size,
          ),
        ),
      );
      send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'daemon/status', params: {} }));
      msgs = await out.waitFor(5);
      expect(msgs[4]).toMatchObject({ id: 4, result: { pid: child.pid } });
      expect(msgs.find((m) => m.id === 99)).toBeUndefined();

      send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'shutdown', params: {} }));
      msgs = await out.waitFor(6);
      expect(msgs[5]).toMatchObject({ id: 5 });
      expect(msgs[5].error).toBeUndefined();
      send(JSON.stringify({ jsonrpc: '2.0', method: 'exit' }));
      expect(await exited).toBe(0);
      expect(out.garbage).toEqual([]);
      // The stdio daemon held the state-dir lock too, and gave it back.
      expect(existsSync(path.join(stateDir, 'daemon.lock'))).toBe(false);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

describe('SIGTERM', () => {
  it('flushes "daemon stopped" to daemon.log and removes the socket and the lock', async () => {
    const d = await startTestDaemon();
    try {
      const lockFile = path.join(d.stateDir, 'daemon.lock');
      expect(existsSync(lockFile)).toBe(true);
      const c = await d.connect('present-at-stop');
      await c.request(DaemonStatus, {});
      // No dispose: the daemon must cope with a client still attached.
      d.child.kill('SIGTERM');
      const code = await new Promise<number | null>((r) =>
        d.child.exitCode !== null ? r(d.child.exitCode) : d.child.once('exit', (x) => r(x)),
      );
      expect(code).toBe(0);
      const log = await readFile(path.join(d.stateDir, 'daemon.log'), 'utf8');
      const lines = log.trimEnd().split('\n');
      expect(lines.at(-1)).toMatch(/ info daemon stopped$/);
      expect(log).toMatch(/received SIGTERM/);
      expect(log.indexOf('received SIGTERM')).toBeLessThan(log.lastIndexOf('daemon stopped'));
      expect(existsSync(d.socketPath)).toBe(false);
      expect(existsSync(lockFile)).toBe(false);
      // The token and the remembered port stay for the next start.
      expect(existsSync(path.join(d.stateDir, 'ws.token'))).toBe(true);
      expect(existsSync(path.join(d.stateDir, 'web.port'))).toBe(true);
      const st = await runCli(['status'], d.env);
      expect(st.code).toBe(3);
      c.dispose();
    } finally {
      await d.cleanup();
    }
  });
});

describe('restarts', () => {
  it('keep the token and the web URL; deleting ws.token rotates the token', async () => {
    const stateDir = await makeTempDir();
    try {
      const a = await startTestDaemon({ stateDir });
      const tokenA = await readFile(path.join(stateDir, 'ws.token'), 'utf8');
      expect(await a.stop()).toBe(0);

      const b = await startTestDaemon({ stateDir });
      expect(await readFile(path.join(stateDir, 'ws.token'), 'utf8')).toBe(tokenA);
      expect(b.token).toBe(a.token);
      expect(b.webUrl).toBe(a.webUrl);
      // The kept token still opens the WebSocket.
      const ws = new WebSocket(new URL('/rpc', b.webUrl!.replace('http', 'ws')), ['shadowbox.v1'], {
        headers: { Authorization: `Bearer ${a.token}` },
      });
      ws.on('error', () => undefined);
      expect(
        await new Promise<string>(
          (r) => (
            ws.once('open', () => r('open')),
            ws.once('unexpected-response', (_q, res) => r(String(res.statusCode)))
          ),
        ),
      ).toBe('open');
      ws.close();
      expect(await b.stop()).toBe(0);

      await unlink(path.join(stateDir, 'ws.token'));
      const c = await startTestDaemon({ stateDir });
      expect(c.token).not.toBe(a.token);
      expect(c.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await mode(path.join(stateDir, 'ws.token'))).toBe(0o600);
      expect(c.webUrl).toBe(a.webUrl);
      // The old token no longer opens the WebSocket.
      const old = new WebSocket(new URL('/rpc', c.webUrl!.replace('http', 'ws')), ['shadowbox.v1'], {
        headers: { Authorization: `Bearer ${a.token}` },
      });
      old.on('error', () => undefined);
      expect(
        await new Promise<string>(
          (r) => (
            old.once('open', () => r('open')),
            old.once('unexpected-response', (_q, res) => r(String(res.statusCode)))
          ),
        ),
      ).toBe('401');
      expect(await c.stop()).toBe(0);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  }, 60_000);

  it('does not reuse a token file that others can read', async () => {
    const stateDir = await makeTempDir();
    try {
      await mkdir(stateDir, { recursive: true });
      const planted = 'A'.repeat(43);
      await writeFile(path.join(stateDir, 'ws.token'), `${planted}\n`, { mode: 0o644 });
      await chmod(path.join(stateDir, 'ws.token'), 0o644);
      const d = await startTestDaemon({ stateDir, web: false });
      expect(d.token).not.toBe(planted);
      expect(await mode(path.join(stateDir, 'ws.token'))).toBe(0o600);
      expect(await d.stop()).toBe(0);
    } finally {
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
