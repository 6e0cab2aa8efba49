// `shadowbox acp` end to end, without a model: the real binary on stdio, driven by the official ACP
// SDK's client side (and raw lines for protocol errors), relaying to a real daemon.
import { spawn, spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { readFile, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSocket } from '@shadowbox/client';
import { acpSocketPath, DaemonStatus, SessionConfigure, SessionCreate, SessionList } from '@shadowbox/protocol';
import {
  launcherBin,
  makeTempDir,
  NO_NODE_PATH,
  repoRoot,
  runCli,
  startTestDaemon,
  type TestDaemon,
} from '../helpers/daemon.js';
import { connectEditor, defaultVia, rawLines, spawnAcp, type AcpEditor, type AcpVia } from './editor.js';

const init = (e: AcpEditor) =>
  e.agent.request('initialize', {
    protocolVersion: 1,
    clientCapabilities: { fs: { readTextFile: false, writeTextFile: false } },
  });

// Both bins: the Node bridge, and (when this checkout has it) the native launcher relaying to the daemon's bridge.
const runningVias: AcpVia[] = defaultVia === 'launcher' ? ['node', 'launcher'] : ['node'];
// With no daemon the launcher hands over to the Node bridge, which starts one: `node` must be on its PATH.
const coldVias: AcpVia[] = defaultVia === 'launcher' ? ['node', 'launcher+node'] : ['node'];

describe.each(runningVias)('shadowbox acp (%s) against a running daemon', (via) => {
  let d: TestDaemon;
  let ws: string;
  const editors: AcpEditor[] = [];
  const editor = () => {
    const e = connectEditor(d.env, { via });
    editors.push(e);
    return e;
  };
  beforeAll(async () => {
    d = await startTestDaemon({ web: false });
    ws = await makeTempDir('acpws');
  });
  afterAll(async () => {
    for (const e of editors) await e.proc.kill();
    await d.stop();
    await d.cleanup();
    await rm(ws, { recursive: true, force: true });
  });

  it('answers malformed lines, batches, unknown methods and requests before initialize with JSON-RPC errors, and keeps going', async () => {
    const p = spawnAcp(d.env, [], via);
    const io = rawLines(p);
    io.send('{this is not json');
    expect(await io.next((m) => m.id === null && (m.error as { code: number })?.code === -32700)).toBeTruthy();
    io.send('[{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":1}}]');
    expect((await io.next((m) => m.id === null && (m.error as { code: number })?.code === -32600)).error).toBeTruthy();
    io.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'session/new', params: { cwd: ws, mcpServers: [] } }));
    expect((await io.next((m) => m.id === 2)).error).toMatchObject({ code: -32600 });
    io.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 3,
        method: 'initialize',
        params: { protocolVersion: 1, clientCapabilities: {} },
      }),
    );
    expect((await io.next((m) => m.id === 3)).result).toMatchObject({
      protocolVersion: 1,
      agentInfo: { name: 'shadowbox' },
    });
    io.send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'session/teleport', params: {} }));
    expect((await io.next((m) => m.id === 4)).error).toMatchObject({ code: -32601 });
    io.send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: '_shadowbox/nope', params: {} }));
    expect((await io.next((m) => m.id === 5)).error).toMatchObject({ code: -32601 });
    io.send(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'session/new', params: { cwd: 42 } }));
    expect((await io.next((m) => m.id === 6)).error).toMatchObject({ code: -32602 });
    // Still alive and serving after all of that.
    io.send(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'session/new', params: { cwd: ws, mcpServers: [] } }));
    expect((await io.next((m) => m.id === 7)).result).toMatchObject({ sessionId: expect.any(String) });
    expect(await p.close()).toBe(0);
  });

  it('initialize, session/new on the editor’s cwd, session/list, set_mode, cancel with no turn; stdout carries only JSON-RPC', async () => {
    const e = editor();
    const r = await init(e);
    expect(r).toMatchObject({
      protocolVersion: 1,
      agentInfo: { name: 'shadowbox', version: expect.any(String) },
      agentCapabilities: {
        loadSession: true,
        promptCapabilities: { embeddedContext: true },
        sessionCapabilities: { list: {} },
      },
      _meta: { shadowbox: { accept: '_shadowbox/accept' } },
    });
    const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
    expect(s.modes?.currentModeId).toBe('review');

    // The same session is the daemon's: another client sees it on that workspace.
    const other = await d.connect('observer');
    const seen = await other.request(SessionList, { workspace: ws });
    expect(seen.sessions.map((x) => x.sessionId)).toContain(s.sessionId);

    const listed = await e.agent.request('session/list', { cwd: ws });
    expect(listed.sessions.find((x) => x.sessionId === s.sessionId)).toMatchObject({
      cwd: expect.stringContaining(path.basename(ws)),
    });

    await e.agent.request('session/set_mode', { sessionId: s.sessionId, modeId: 'auto' });
    await expect
      .poll(() => e.updates.filter((u) => u.sessionId === s.sessionId).map((u) => u.update))
      .toContainEqual({ sessionUpdate: 'current_mode_update', currentModeId: 'auto' });
    expect(
      (await other.request(SessionList, { workspace: ws })).sessions.find((x) => x.sessionId === s.sessionId)?.mode,
    ).toBe('auto');
    await expect(e.agent.request('session/set_mode', { sessionId: s.sessionId, modeId: 'yolo' })).rejects.toMatchObject(
      { code: -32602 },
    );

    await e.agent.notify('session/cancel', { sessionId: s.sessionId });

    await expect(
      e.agent.request('session/load', { sessionId: 'no-such-session', cwd: ws, mcpServers: [] }),
    ).rejects.toMatchObject({ code: -32002 });

    for (const line of e.stdoutLines()) expect(JSON.parse(line)).toMatchObject({ jsonrpc: '2.0' });
    other.dispose();
  });

  it('session/load attaches to a session another client started and replays its history as session/update', async () => {
    const other = await d.connect('terminal');
    const s = await other.request(SessionCreate, { workspace: ws });
    await other.request(SessionConfigure, { sessionId: s.sessionId, mode: 'read-only' });
    other.dispose();

    const e = editor();
    await init(e);
    const r = await e.agent.request('session/load', { sessionId: s.sessionId, cwd: ws, mcpServers: [] });
    expect(r?.modes?.currentModeId).toBe('read-only');
    // Replayed before the response, then the slash commands the session offers.
    const updates = e.updates.filter((u) => u.sessionId === s.sessionId).map((u) => u.update);
    expect(updates[0]).toEqual({ sessionUpdate: 'current_mode_update', currentModeId: 'read-only' });
    expect(updates.slice(1).map((u) => u.sessionUpdate)).toEqual(['available_commands_update']);
  });

  it('the editor closing stdin mid-request: the bridge exits 0 and the daemon keeps running with the session', async () => {
    const p = spawnAcp(d.env, [], via);
    p.child.stdin.write(
      `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 1 } })}\n`,
    );
    p.child.stdin.end(
      `${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'session/new', params: { cwd: ws, mcpServers: [] } })}\n`,
    );
    expect(await p.exited).toBe(0);
    const c = await connectSocket(d.socketPath);
    await c.initialize({ name: 'after', kind: 'test' });
    expect((await c.request(SessionList, { workspace: ws })).sessions.length).toBeGreaterThan(0);
    c.dispose();
    expect(d.child.exitCode).toBeNull();
  });
});

describe.each(coldVias)('shadowbox acp (%s) without a daemon', (via) => {
  it('starts the daemon, and leaves it running when the editor goes; exits 1 when the daemon stops under it', async () => {
    const stateDir = await makeTempDir('acpsd');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SHADOWBOX_STATE_DIR: stateDir,
      SHADOWBOX_SOCKET: path.join(stateDir, 'daemon.sock'),
    };
    delete env.NODE_OPTIONS;
    const ws = await makeTempDir('acpws');
    try {
      const e = connectEditor(env, { via });
      await init(e);
      const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
      // The launcher started the daemon itself and relays: no Node bridge beside the editor.
      if (via !== 'node') expect(readlinkSync(`/proc/${e.proc.child.pid!}/exe`)).toBe(launcherBin);
      expect(await e.proc.close()).toBe(0);
      const lock = JSON.parse(await readFile(path.join(stateDir, 'daemon.lock'), 'utf8')) as { pid: number };
      expect(() => process.kill(lock.pid, 0)).not.toThrow();

      // A second editor finds the same daemon and the session.
      const e2 = connectEditor(env, { via });
      await init(e2);
      expect((await e2.agent.request('session/list', { cwd: ws })).sessions.map((x) => x.sessionId)).toContain(
        s.sessionId,
      );
      expect((await runCli(['stop'], env)).code).toBe(0);
      expect(await e2.proc.exited).toBe(1);
      expect(e2.proc.stderr()).toContain('the daemon connection closed');
    } finally {
      await runCli(['stop'], env).catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
      await rm(ws, { recursive: true, force: true });
    }
  });

  it('the daemon it started survives an editor that kills every descendant of the bridge (as acpx does)', async () => {
    const stateDir = await makeTempDir('acpkd');
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SHADOWBOX_STATE_DIR: stateDir,
      SHADOWBOX_SOCKET: path.join(stateDir, 'daemon.sock'),
    };
    delete env.NODE_OPTIONS;
    try {
      const e = connectEditor(env, { via });
      await init(e);
      // initialize is answered while the daemon starts; session/list waits for the link, so the daemon is up.
      await e.agent.request('session/list', {});
      if (via !== 'node') expect(readlinkSync(`/proc/${e.proc.child.pid!}/exe`)).toBe(launcherBin);
      const bridge = e.proc.child.pid!;
      const tree = [bridge, ...descendants(bridge)];
      for (const pid of tree) process.kill(pid, 'SIGKILL');
      await e.proc.exited;
      const lock = JSON.parse(await readFile(path.join(stateDir, 'daemon.lock'), 'utf8')) as { pid: number };
      expect(tree).not.toContain(lock.pid);
      expect(() => process.kill(lock.pid, 0)).not.toThrow();
      const status = await runCli(['status', '--json'], env);
      expect(status.code).toBe(0);
      expect((JSON.parse(status.stdout) as { pid: number }).pid).toBe(lock.pid);
    } finally {
      await runCli(['stop'], env).catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});

// What is particular to the launcher as the ACP bin: it relays to the bridge the daemon hosts on its ACP socket.
// Without a C compiler there is no launcher (scripts/build-launcher.mjs), and this says so.
describe.skipIf(defaultVia !== 'launcher')(
  'the native launcher as `shadowbox acp` (relays to the bridge the daemon hosts; needs a C compiler)',
  () => {
    let d: TestDaemon;
    let ws: string;
    beforeAll(async () => {
      d = await startTestDaemon({ web: false });
      ws = await makeTempDir('acpws');
    });
    afterAll(async () => {
      await d.stop();
      await d.cleanup();
      await rm(ws, { recursive: true, force: true });
    });
    const acpClients = async () => {
      const c = await connectSocket(d.socketPath);
      await c.initialize({ name: 'observer', kind: 'test' });
      const { clients } = await c.request(DaemonStatus, {});
      c.dispose();
      return clients.filter((x) => x.name === 'shadowbox-acp').length;
    };

    it('beside the editor runs the launcher alone, no Node; the daemon serves it as an ACP client; its ACP socket is private', async () => {
      const before = await acpClients();
      const e = connectEditor(d.env, { via: 'launcher' });
      await init(e);
      const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
      expect(s.sessionId).toEqual(expect.any(String));
      const pid = e.proc.child.pid!;
      expect(readlinkSync(`/proc/${pid}/exe`)).toBe(launcherBin);
      expect(descendants(pid)).toEqual([]);
      expect(await acpClients()).toBe(before + 1);
      const st = statSync(acpSocketPath(d.socketPath));
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
      expect(st.uid).toBe(process.getuid!());
      expect(await e.proc.close()).toBe(0);
      await expect.poll(acpClients).toBe(before);
    });

    it.skipIf(process.getuid!() !== 0 || !existsSync('/usr/sbin/runuser'))(
      'another user cannot reach it: the relay is refused and hands over (running as nobody, with no node to run)',
      () => {
        const r = spawnSync('/usr/sbin/runuser', ['-u', 'nobody', '--', launcherBin, 'acp'], {
          env: { ...d.env, PATH: NO_NODE_PATH },
          input: '',
          encoding: 'utf8',
        });
        // Connecting failed (the socket is 0600, its folder private): it went to hand over, and there is no node.
        expect(r.status).toBe(127);
        expect(r.stderr).toContain('cannot run node');
      },
    );

    it.skipIf(!existsSync('/usr/bin/python3'))(
      'a link closed with answers unread (the daemon reads ECONNRESET, not an end) ends its bridge too (needs /usr/bin/python3)',
      async () => {
        const before = await acpClients();
        // A peer that sends initialize, waits until the answer is in its socket's buffer, and closes without reading
        // it: Linux then gives the other side ECONNRESET rather than an end of stream.
        const peer = [
          'import socket, select, sys',
          's = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])',
          's.sendall(b\'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":1}}\\n\')',
          'select.select([s], [], [])',
          'print("answered", flush=True); sys.stdin.read(); s.close()',
        ].join('\n');
        const child = spawn('/usr/bin/python3', ['-c', peer, acpSocketPath(d.socketPath)], {
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        await new Promise((resolve) => child.stdout.once('data', resolve));
        await expect.poll(acpClients).toBe(before + 1);
        child.stdin.end();
        await new Promise((resolve) => child.once('exit', resolve));
        await expect.poll(acpClients).toBe(before);
      },
    );

    it('relays both ways at once: a burst of lines the bridge answers one by one, each answer read as it comes', async () => {
      // The bridge stops reading while an answer it wrote waits; a relay that blocked on either side stalled here.
      const p = spawnAcp(d.env, [], 'launcher');
      const lines = 20_000;
      let answers = 0;
      let rest = '';
      p.child.stdout.on('data', (b: Buffer) => {
        const text = rest + b.toString();
        const parts = text.split('\n');
        rest = parts.pop()!;
        answers += parts.filter((l) => l.includes('-32700')).length;
      });
      p.child.stdin.write(`${'x'.repeat(100)}\n`.repeat(lines)); // 2 MB: past every buffer on the way
      await expect.poll(() => answers, { timeout: 60_000 }).toBe(lines);
      expect(await p.close()).toBe(0);
    });

    it('takes what an editor writes before it reads: its writes complete while no answer is read, then every answer comes', async () => {
      const p = spawnAcp(d.env, [], 'launcher');
      p.child.stdout.pause();
      const request = (id: number) =>
        `${JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: 1 } })}\n`;
      const n = 20_000; // ~2 MB of requests, ~10 MB of answers: far past the pipes' and the socket's buffers
      const written = new Promise((resolve) =>
        p.child.stdin.write(Array.from({ length: n }, (_, i) => request(i)).join(''), resolve),
      );
      await written; // the launcher took every byte while nothing was read from it
      let answered = 0;
      let rest = '';
      p.child.stdout.on('data', (b: Buffer) => {
        const parts = (rest + b.toString()).split('\n');
        rest = parts.pop()!;
        answered += parts.length;
      });
      p.child.stdout.resume();
      await expect.poll(() => answered, { timeout: 60_000 }).toBe(n);
      expect(await p.close()).toBe(0);
    });

    it.each(['node', 'launcher'] as const)(
      'an editor that closes the bin’s stdout (%s): it exits 0 at the next answer, as the Node bridge does',
      async (via) => {
        const e = connectEditor(d.env, { via });
        await init(e);
        e.proc.child.stdout.destroy();
        e.proc.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'session/list', params: {} })}\n`);
        expect(await e.proc.exited).toBe(0);
      },
    );

    it('a relay killed mid-turn (SIGKILL) ends its bridge: the daemon drops the client and serves on', async () => {
      const before = await acpClients();
      const e = connectEditor(d.env, { via: 'launcher' });
      await init(e);
      const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
      expect(await acpClients()).toBe(before + 1);
      // Requests in flight, their answers left unread.
      e.proc.child.stdout.pause();
      for (let i = 0; i < 50; i++) void e.agent.request('session/list', { cwd: ws }).catch(() => undefined);
      await e.proc.kill();
      await expect.poll(acpClients).toBe(before);
      const again = connectEditor(d.env, { via: 'launcher' });
      await init(again);
      const listed = await again.agent.request('session/list', { cwd: ws });
      expect(listed.sessions.map((x) => x.sessionId)).toContain(s.sessionId);
      expect(await again.proc.close()).toBe(0);
    });
  },
);

describe.skipIf(defaultVia !== 'launcher')('the native launcher as `shadowbox acp` with no daemon', () => {
  it('three editors at once: one daemon starts (the other starts lose the race for its lock), all three are relayed to it', async () => {
    const stateDir = await makeTempDir('acprace');
    const env: NodeJS.ProcessEnv = { ...process.env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_SOCKET: undefined };
    try {
      const editors = [0, 1, 2].map(() => connectEditor(env, { via: 'launcher+node' }));
      for (const e of editors) {
        await init(e);
        await e.agent.request('session/list', {});
        expect(readlinkSync(`/proc/${e.proc.child.pid!}/exe`)).toBe(launcherBin);
      }
      const lock = JSON.parse(await readFile(path.join(stateDir, 'daemon.lock'), 'utf8')) as { pid: number };
      const c = await connectSocket(path.join(stateDir, 'daemon.sock'));
      await c.initialize({ name: 'observer', kind: 'test' });
      const status = await c.request(DaemonStatus, {});
      c.dispose();
      expect(status.pid).toBe(lock.pid);
      expect(status.clients.filter((x) => x.name === 'shadowbox-acp')).toHaveLength(3);
      for (const e of editors) expect(await e.proc.close()).toBe(0);
    } finally {
      await runCli(['stop'], env).catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it.each([false, true])(
    'answers the editor’s initialize while it starts the daemon (readTextFile %s): the bridge’s own answer, byte for byte, once; what the editor sends next is served',
    async (readTextFile) => {
      const run = async (via: AcpVia) => {
        const stateDir = await makeTempDir('acpearly');
        const env = { ...process.env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_SOCKET: undefined };
        const p = spawnAcp(env, [], via);
        let out = '';
        p.child.stdout.on('data', (b: Buffer) => (out += b.toString()));
        const lines = () => out.split('\n').filter(Boolean);
        const send = (m: object) => p.child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
        try {
          send({
            id: 42,
            method: 'initialize',
            params: { protocolVersion: 1, clientCapabilities: { fs: { readTextFile } } },
          });
          await expect.poll(lines, { timeout: 30_000 }).toHaveLength(1);
          const initialized = lines()[0];
          // At once, as an editor does: served once the bridge has its initialize.
          send({ id: 43, method: 'session/list', params: {} });
          await expect
            .poll(() => lines().some((l) => l.startsWith('{"jsonrpc":"2.0","id":43,"result"')), { timeout: 30_000 })
            .toBe(true);
          expect(lines().filter((l) => l.includes('"id":42'))).toHaveLength(1);
          expect(await p.close()).toBe(0);
          if (via !== 'node') expect(p.stderr()).toBe('');
          return initialized;
        } finally {
          await runCli(['stop'], env).catch(() => undefined);
          await rm(stateDir, { recursive: true, force: true });
        }
      };
      const native = await run('launcher+node');
      expect(JSON.parse(native)).toMatchObject({
        id: 42,
        result: { _meta: { shadowbox: { editorBuffers: readTextFile } } },
      });
      expect(native).toBe(await run('node'));
    },
  );

  it('the daemon it starts holds none of the editor’s descriptors but its stdio (a pipe the editor waits to see closed closes)', async () => {
    const stateDir = await makeTempDir('acpfds');
    const env = { ...process.env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_SOCKET: undefined };
    try {
      // A fourth pipe the launcher inherits (fd 3), as a make jobserver or an editor's extra pipe would be.
      const child = spawn(launcherBin, ['acp'], { env, cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
      const extra = child.stdio[3] as Readable;
      const extraClosed = new Promise((resolve) => extra.once('close', resolve));
      extra.resume();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 1 } })}\n`,
      );
      child.stdout.resume();
      await expect.poll(() => existsSync(path.join(stateDir, 'daemon.sock.acp')), { timeout: 30_000 }).toBe(true);
      child.stdin.end();
      await exited;
      await extraClosed; // nobody holds its other end: the daemon did not inherit it
      const lock = JSON.parse(await readFile(path.join(stateDir, 'daemon.lock'), 'utf8')) as { pid: number };
      expect(() => process.kill(lock.pid, 0)).not.toThrow();
    } finally {
      await runCli(['stop'], env).catch(() => undefined);
      await rm(stateDir, { recursive: true, force: true });
    }
  });

  it('a daemon that cannot start (a broken config.json): the same initialize answer (no daemon ever ran, so it is the launcher’s own), the same one line and exit code as the Node bridge', async () => {
    const run = async (via: AcpVia) => {
      const stateDir = await makeTempDir('acpbroken');
      await writeFile(path.join(stateDir, 'config.json'), JSON.stringify({ model: 5 }));
      const p = spawnAcp({ ...process.env, SHADOWBOX_STATE_DIR: stateDir, SHADOWBOX_SOCKET: undefined }, [], via);
      let stdout = '';
      p.child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      p.child.stdin.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 1 } })}\n`,
      );
      const code = await p.exited;
      await rm(stateDir, { recursive: true, force: true });
      return { code, stdout, stderr: p.stderr().replaceAll(stateDir, 'STATE') };
    };
    const native = await run('launcher+node');
    expect(native.stderr).toMatch(/^shadowbox acp: cannot reach the daemon: the shadowbox daemon could not start: /);
    expect(native.stderr).toContain('STATE/config.json: model: ');
    expect(JSON.parse(native.stdout)).toMatchObject({ id: 1, result: { agentInfo: { name: 'shadowbox' } } });
    expect(native).toEqual(await run('node'));
  });
});

describe('the daemon’s ACP socket', () => {
  it('drops a link whose line (one ACP message) outgrows the daemon’s message cap, and serves on', async () => {
    const d = await startTestDaemon({ web: false, args: ['--max-message-bytes', '4096'] });
    try {
      const link = net.connect(acpSocketPath(d.socketPath));
      const closed = new Promise((resolve) => link.once('close', resolve));
      link.on('error', () => undefined);
      // Under the cap, in pieces: answered.
      const init = JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: 1, pad: 'x'.repeat(3000) },
      });
      link.write(init.slice(0, 1000));
      link.write(`${init.slice(1000)}\n`);
      const answer = await new Promise<string>((resolve) => link.once('data', (b: Buffer) => resolve(b.toString())));
      expect(JSON.parse(answer.split('\n')[0])).toMatchObject({ id: 1, result: { protocolVersion: 1 } });
      // Over it, with no end of line in sight: the link is dropped before the daemon holds it all.
      for (let i = 0; i < 8; i++) link.write('y'.repeat(1024));
      await closed;
      await expect
        .poll(() => readFileSync(path.join(d.stateDir, 'daemon.log'), 'utf8'))
        .toContain('a message longer than 4096 bytes: the link is dropped');
      const c = await d.connect('after');
      expect((await c.request(DaemonStatus, {})).pid).toBe(d.pid);
      c.dispose();
    } finally {
      await d.stop();
      await d.cleanup();
    }
  });

  it('writes what the ACP SDK reports of an editor’s message as one line of the daemon’s stderr (no forged line)', async () => {
    const d = await startTestDaemon({ web: false });
    try {
      const link = net.connect(acpSocketPath(d.socketPath));
      link.on('error', () => undefined);
      link.write(
        `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 1 } })}\n`,
      );
      await new Promise((resolve) => link.once('data', resolve));
      // A response to a request the bridge never made: the SDK logs its id verbatim with console.error.
      const forged = 'shadowbox daemon ready: socket /tmp/forged';
      link.write(`${JSON.stringify({ jsonrpc: '2.0', id: `x\n${forged}\u001b[2J`, result: {} })}\n`);
      await expect.poll(() => d.stderr()).toContain('Got response to unknown request');
      const lines = d.stderr().split('\n');
      expect(lines.filter((l) => l.startsWith('shadowbox daemon ready:'))).toHaveLength(1);
      expect(lines.find((l) => l.includes('unknown request'))).toBe(
        `Got response to unknown request x\\n${forged}\\u001b[2J`,
      );
      link.destroy();
    } finally {
      await d.stop();
      await d.cleanup();
    }
  });
});

describe.skipIf(defaultVia !== 'launcher')('a daemon whose ACP socket path is taken', () => {
  it.each(['a file', 'a symlink to the daemon’s own socket'])(
    'by %s: the daemon starts all the same and says so; the launcher hands over to the Node bridge, which works; the path is left alone',
    async (what) => {
      const stateDir = await makeTempDir('acptaken');
      const taken = acpSocketPath(path.join(stateDir, 'daemon.sock'));
      if (what === 'a file') await writeFile(taken, 'not a socket');
      // A symlink the daemon refuses to replace: connecting through it reaches the daemon's LSP-framed socket.
      else await symlink('daemon.sock', taken);
      const d = await startTestDaemon({ stateDir, web: false });
      const ws = await makeTempDir('acpws');
      try {
        await expect
          .poll(() => readFileSync(path.join(stateDir, 'daemon.log'), 'utf8'))
          .toContain(`no ACP socket at ${taken}`);
        const e = connectEditor(d.env, { via: 'launcher+node' });
        await init(e);
        expect(readlinkSync(`/proc/${e.proc.child.pid!}/exe`)).toBe(process.execPath);
        const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
        expect(s.sessionId).toEqual(expect.any(String));
        expect(await e.proc.close()).toBe(0);
        if (what === 'a file') expect(readFileSync(taken, 'utf8')).toBe('not a socket');
        else expect(readlinkSync(taken)).toBe('daemon.sock');
      } finally {
        await d.stop();
        await d.cleanup();
        await rm(ws, { recursive: true, force: true });
      }
    },
  );
});

/** Every live descendant of `pid`, from /proc (what a client that kills its agent's process tree walks). */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Field 4 of /proc/PID/stat is the parent pid; the command name (field 2) may contain spaces.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}
