// Issue 16: hostile commands, each contained with a clear result — writes outside the workspace, reading
// ~/.ssh, the state dir or model keys, a loopback server, a fork bomb, `sleep 1000` (timeout and cancel),
// 100 MB of output, a link to outside (accept never writes through it). Once as the test user (root in CI),
// once as nobody; through tools/call, the same policy, audit and sandbox path the agent's calls take.
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SessionAttach,
  SessionCancel,
  SessionCreate,
  ShadowAccept,
  ShadowStatus,
  ToolsCall,
  type ResultOf,
} from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import { type TestDaemon, until } from '../helpers/daemon.js';
import {
  chownTree,
  makeProject,
  ownedDir,
  processesWith,
  sandboxUsers,
  shellAvailable,
  startSandboxDaemon,
} from './harness.js';

type Call = ResultOf<typeof ToolsCall>;
const data = (r: Call) =>
  r.data as {
    exitCode: number;
    timedOut: boolean;
    cancelled: boolean;
    truncated: boolean;
    totalBytes: number;
    stdout: string;
    stderr: string;
    changed: string[];
    network: { host: string; port: number; allowed: boolean; reason?: string }[] | null;
  };

for (const as of sandboxUsers()) {
  describe(`hostile commands, daemon as ${as}`, () => {
    let d: TestDaemon;
    let c: ShadowboxClient;
    let skip = '';
    let home: string;
    let hits = 0;
    let server: http.Server;
    let port = 0;
    const secret = `sk-test-${as}-0123456789abcdef`;
    beforeAll(async () => {
      // The daemon's own home holds an SSH key; its environment holds model keys and an agent socket.
      home = ownedDir(as, 'sbx-home');
      mkdirSync(path.join(home, '.ssh'));
      writeFileSync(path.join(home, '.ssh/id_ed25519'), 'PRIVATE KEY MATERIAL\n');
      chownTree(as, home);
      d = await startSandboxDaemon(as, {
        HOME: home,
        OPENAI_API_KEY: secret,
        ANTHROPIC_API_KEY: secret,
        SHADOWBOX_SECRET_SETTING: secret,
        SSH_AUTH_SOCK: path.join(home, 'agent.sock'),
        GITHUB_TOKEN: secret,
      });
      const a = await shellAvailable(d);
      if (!a.ok) {
        skip = a.why;
        console.log(`skipped: the host sandbox cannot run here (${a.why})`);
      }
      c = await d.connect('test');
      server = http.createServer((_q, res) => {
        hits++;
        res.end('reached\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as AddressInfo).port;
    }, 60_000);
    afterAll(async () => {
      c?.dispose();
      server?.close();
      await d?.stop();
      await d?.cleanup();
    });

    const session = async (files: Record<string, string> = { 'a.txt': 'A\n' }, mode?: 'auto' | 'review') => {
      const ws = makeProject(as, files);
      const s = await c.request(SessionCreate, { workspace: ws, ...(mode ? { mode } : {}) });
      return { ws, sessionId: s.sessionId };
    };
    const shell = (sessionId: string, command: string, extra: Record<string, unknown> = {}) =>
      c.request(ToolsCall, { sessionId, tool: 'shell', input: { command, ...extra } });

    it('writes outside the workspace land nowhere on the host; /etc and .git are read-only', async (ctx) => {
      if (skip) return ctx.skip();
      const { ws, sessionId } = await session();
      const marker = `pwn-${as}-${Date.now()}`;
      const r = await shell(
        sessionId,
        [
          `echo x > /tmp/${marker} && echo tmp-ok`,
          `echo x > /etc/${marker} || echo etc-refused`,
          `echo x > ../${marker} || echo parent-refused`,
          `echo x > $HOME/${marker} && echo home-ok`,
          `echo x > /${marker} || echo root-refused`,
          `echo x > .git/hooks/pre-commit || echo git-refused`,
          'echo inside > ok.txt',
        ].join('; '),
      );
      const out = data(r).stdout + data(r).stderr;
      expect(out).toContain('etc-refused');
      expect(out).toContain('root-refused');
      expect(out).toContain('git-refused');
      expect(out).toContain('Read-only file system');
      for (const p of [`/tmp/${marker}`, `/etc/${marker}`, path.join(path.dirname(ws), marker), `/${marker}`])
        expect(existsSync(p), p).toBe(false);
      expect(existsSync(path.join(ws, '.git/hooks/pre-commit'))).toBe(false);
      // The write inside the workspace is a pending change, not a real file.
      expect(existsSync(path.join(ws, 'ok.txt'))).toBe(false);
      expect(r.changed).toEqual(['ok.txt']);
    }, 60_000);

    it('cannot read ~/.ssh, the state dir or the model keys in the environment', async (ctx) => {
      if (skip) return ctx.skip();
      const { sessionId } = await session();
      const r = await shell(
        sessionId,
        [
          `cat ${home}/.ssh/id_ed25519`,
          `ls ${d.stateDir}`,
          `cat ${d.stateDir}/ws.token`,
          'env',
          'cat /proc/1/environ | tr "\\0" "\\n"',
          'ls /proc | grep -c "^[0-9]"',
        ].join('; '),
      );
      const out = data(r).stdout + data(r).stderr;
      expect(out).not.toContain('PRIVATE KEY MATERIAL');
      expect(out).not.toContain(secret);
      expect(out).not.toContain('SSH_AUTH_SOCK');
      expect(out).not.toContain('SHADOWBOX_');
      expect(out).not.toContain(d.token);
      expect(out).toContain('No such file or directory');
    }, 60_000);

    it('a server on the host’s loopback is unreachable — without network, and through the proxy (not public)', async (ctx) => {
      if (skip) return ctx.skip();
      const { sessionId } = await session({ 'a.txt': 'A\n' }, 'auto');
      const before = hits;
      const off = await shell(sessionId, `curl -sS -m 5 http://127.0.0.1:${port}/ ; echo "exit $?"`);
      expect(data(off).stdout + data(off).stderr).toMatch(/Connection refused|Failed to connect/);
      // NO_PROXY keeps loopback names direct (the sandbox's own loopback); --noproxy '' sends them to the proxy.
      const on = await shell(
        sessionId,
        `curl --noproxy '' -sS -m 5 http://127.0.0.1:${port}/ ; curl -sS -m 5 http://0x7f000001:${port}/ ; curl -sS -m 5 https://[::ffff:127.0.0.1]:${port}/`,
        { network: true },
      );
      expect(data(on).stdout).toContain('address_not_allowed');
      expect(data(on).network?.every((n) => !n.allowed && n.reason === 'address_not_allowed')).toBe(true);
      expect(hits).toBe(before);
    }, 60_000);

    it('a fork bomb hits the process limit, is stopped at its time limit, and leaves nothing running', async (ctx) => {
      if (skip) return ctx.skip();
      const { sessionId } = await session();
      const marker = `bomb${as}${Date.now()}`;
      const r = await shell(sessionId, `sh -c 'b() { b | b & }; b' ${marker}; sleep 1000.75`, { timeoutMs: 3000 });
      // The limit holds (forks fail), and whatever still runs is stopped with the whole tree.
      expect(data(r).stderr).toContain('Cannot fork');
      expect(await until(() => processesWith(marker).length === 0 && processesWith('1000.75').length === 0)).toBe(true);
      // The daemon and the next command are fine.
      const after = await shell(sessionId, 'echo alive; ulimit -u');
      expect(data(after).stdout).toContain('alive');
    }, 60_000);

    it('sleep 1000: its time limit stops it, and session/cancel from another client stops it', async (ctx) => {
      if (skip) return ctx.skip();
      const { sessionId } = await session();
      const t = await shell(sessionId, 'sleep 1000.25', { timeoutMs: 1000 });
      expect(data(t).timedOut).toBe(true);
      expect(data(t).exitCode).toBe(124);
      expect(await until(() => processesWith('1000.25').length === 0)).toBe(true);
      const other = await d.connect('other');
      await other.request(SessionAttach, { sessionId, fromSeq: Number.MAX_SAFE_INTEGER });
      const running = shell(sessionId, 'echo started; sleep 1000.5', { timeoutMs: 600_000 });
      expect(await until(() => processesWith('1000.5').length > 0, 20_000)).toBe(true);
      await other.request(SessionCancel, { sessionId });
      const r = await running;
      expect(r.isError).toBe(true);
      expect(await until(() => processesWith('1000.5').length === 0)).toBe(true);
      other.dispose();
    }, 60_000);

    it('100 MB of output: the start and the end are kept with a marker, the command ends normally', async (ctx) => {
      if (skip) return ctx.skip();
      const { sessionId } = await session();
      const r = await shell(sessionId, 'echo FIRST; head -c 100000000 /dev/zero | tr "\\0" x; echo; echo LAST');
      const dd = data(r);
      expect(dd.exitCode).toBe(0);
      expect(dd.truncated).toBe(true);
      expect(dd.totalBytes).toBeGreaterThan(100_000_000);
      expect(dd.stdout.startsWith('FIRST')).toBe(true);
      expect(dd.stdout.trimEnd().endsWith('LAST')).toBe(true);
      expect(dd.stdout.length).toBeLessThan(2 * 1024 * 1024);
      expect(r.content).toContain('bytes of output dropped');
    }, 120_000);

    it('a link to outside made by a command: reviewed as a link, accept creates only the link, nothing is written through it', async (ctx) => {
      if (skip) return ctx.skip();
      const outside = ownedDir(as, 'sbx-outside');
      writeFileSync(path.join(outside, 'theirs.txt'), 'theirs\n');
      chownTree(as, outside);
      const { ws, sessionId } = await session();
      const r = await shell(
        sessionId,
        `ln -s ${outside} evil; ln -s ../../.. up; echo pwn > evil/pwn.txt; echo "exit $?"`,
      );
      expect(data(r).stdout + data(r).stderr).toMatch(/cannot create evil\/pwn.txt/);
      expect(readdirSync(outside)).toEqual(['theirs.txt']);
      // The agent's own tools cannot write through the link either.
      const w = await c.request(ToolsCall, {
        sessionId,
        tool: 'write_file',
        input: { path: 'evil/pwn.txt', content: 'pwn' },
      });
      expect(w.isError).toBe(true);
      expect(w.reason).toBe('symlink_outside');
      const st = await c.request(ShadowStatus, { sessionId });
      expect(st.files.map((f) => [f.path, f.link])).toEqual([
        ['evil', outside],
        ['up', '../../..'],
      ]);
      await c.request(ShadowAccept, { sessionId });
      expect(readlinkSync(path.join(ws, 'evil'))).toBe(outside);
      expect(readdirSync(outside)).toEqual(['theirs.txt']);
      // Even with the link now real, a later command writes nothing through it.
      const again = await shell(sessionId, 'echo pwn > evil/pwn2.txt; mkdir -p evil/sub; echo done');
      expect(data(again).stdout).toContain('done');
      expect(readdirSync(outside)).toEqual(['theirs.txt']);
      expect(readFileSync(path.join(outside, 'theirs.txt'), 'utf8')).toBe('theirs\n');
    }, 60_000);
  });
}
