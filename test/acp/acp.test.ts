// `shadowbox acp` end to end, without a model: the real binary on stdio, driven by the official ACP
// SDK's client side (and raw lines for protocol errors), relaying to a real daemon.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSocket } from '@shadowbox/client';
import { SessionConfigure, SessionCreate, SessionList } from '@shadowbox/protocol';
import { makeTempDir, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { connectEditor, rawLines, spawnAcp, type AcpEditor } from './editor.js';

const init = (e: AcpEditor) =>
  e.agent.request('initialize', {
    protocolVersion: 1,
    clientCapabilities: { fs: { readTextFile: false, writeTextFile: false } },
  });

describe('shadowbox acp against a running daemon', () => {
  let d: TestDaemon;
  let ws: string;
  const editors: AcpEditor[] = [];
  const editor = () => {
    const e = connectEditor(d.env);
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
    const p = spawnAcp(d.env);
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
    // Replayed before the response.
    expect(e.updates.filter((u) => u.sessionId === s.sessionId).map((u) => u.update)).toEqual([
      { sessionUpdate: 'current_mode_update', currentModeId: 'read-only' },
    ]);
  });

  it('the editor closing stdin mid-request: the bridge exits 0 and the daemon keeps running with the session', async () => {
    const p = spawnAcp(d.env);
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

describe('shadowbox acp without a daemon', () => {
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
      const e = connectEditor(env);
      await init(e);
      const s = await e.agent.request('session/new', { cwd: ws, mcpServers: [] });
      expect(await e.proc.close()).toBe(0);
      const lock = JSON.parse(await readFile(path.join(stateDir, 'daemon.lock'), 'utf8')) as { pid: number };
      expect(() => process.kill(lock.pid, 0)).not.toThrow();

      // A second editor finds the same daemon and the session.
      const e2 = connectEditor(env);
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
});
