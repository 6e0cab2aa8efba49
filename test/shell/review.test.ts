// Issue 16: what a command writes is reviewed exactly like write_file edits (renames, new folders, folders
// replaced whole, modes, deletions; hunk accept, reject, undo), build output goes to the session's cache,
// and the policy governs commands: review mode runs network-off commands, asks for network, command rules
// allow and deny, read-only mode mounts the workspace read-only, denied paths and the state dir are
// invisible. Once as the test user (root in CI), once as nobody.
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PolicySetRules,
  SessionCreate,
  ShadowAccept,
  ShadowDiff,
  ShadowReject,
  ShadowStatus,
  ShadowUndo,
  ToolsCall,
  type ResultOf,
} from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import type { TestDaemon } from '../helpers/daemon.js';
import { makeProject, sandboxUsers, shellAvailable, startSandboxDaemon } from './harness.js';

type Call = ResultOf<typeof ToolsCall>;
const out = (r: Call) => {
  const d = r.data as { stdout?: string; stderr?: string } | undefined;
  return `${d?.stdout ?? ''}${d?.stderr ?? ''}`;
};
const exitOf = (r: Call) => (r.data as { exitCode?: number } | undefined)?.exitCode;

for (const as of sandboxUsers()) {
  describe(`command writes under review, and the policy, daemon as ${as}`, () => {
    let d: TestDaemon;
    let c: ShadowboxClient;
    let skip = '';
    beforeAll(async () => {
      d = await startSandboxDaemon(as);
      const a = await shellAvailable(d);
      if (!a.ok) {
        skip = a.why;
        console.log(`skipped: the host sandbox cannot run here (${a.why})`);
      }
      c = await d.connect('test', { permissions: true });
    }, 60_000);
    afterAll(async () => {
      c?.dispose();
      await d?.stop();
      await d?.cleanup();
    });

    const start = async (files: Record<string, string>, mode?: 'auto' | 'review' | 'read-only') => {
      const ws = makeProject(as, files, { modes: { 'run.sh': 0o644 } });
      const s = await c.request(SessionCreate, { workspace: ws, ...(mode ? { mode } : {}) });
      const shell = (command: string, extra: Record<string, unknown> = {}) =>
        c.request(ToolsCall, { sessionId: s.sessionId, tool: 'shell', input: { command, ...extra } });
      return { ws, sessionId: s.sessionId, shell };
    };

    it('writes, deletions, renames, new and replaced folders, modes: reviewed, hunk-accepted, rejected, undone', async (ctx) => {
      if (skip) return ctx.skip();
      const lines = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
      const { ws, sessionId, shell } = await start({
        'notes.txt': lines,
        'old/name.txt': 'moved bytes\n',
        'gone.txt': 'G\n',
        'out/stale.txt': 'S\n',
        'run.sh': 'echo run\n',
      });
      const r = await shell(
        [
          "sed -i -e 's/^line 2$/LINE TWO/' -e 's/^line 28$/LINE 28/' notes.txt",
          'mkdir -p old2 && mv old/name.txt old2/name.txt',
          'rm gone.txt',
          'rm -rf out && mkdir out && echo fresh > out/new.txt',
          'chmod +x run.sh',
          'mkdir -p docs/empty',
        ].join(' && '),
      );
      expect(exitOf(r), out(r)).toBe(0);
      const st = await c.request(ShadowStatus, { sessionId });
      expect(st.files.map((f) => [f.path, f.change, f.oldPath])).toEqual([
        ['docs/empty/', 'added', undefined],
        ['gone.txt', 'deleted', undefined],
        ['notes.txt', 'modified', undefined],
        ['old2/name.txt', 'renamed', 'old/name.txt'],
        ['out/new.txt', 'added', undefined],
        ['out/stale.txt', 'deleted', undefined],
        ['run.sh', 'modified', undefined],
      ]);
      const diff = await c.request(ShadowDiff, { sessionId, paths: ['notes.txt', 'run.sh'] });
      const notes = diff.files.find((f) => f.path === 'notes.txt')!;
      expect(notes.hunks).toHaveLength(2);
      expect(diff.files.find((f) => f.path === 'run.sh')).toMatchObject({ oldMode: 0o644, newMode: 0o755 });
      // Hunk accept takes one change of the file; reject drops the other; undo puts the real file back.
      await c.request(ShadowAccept, { sessionId, hunks: [notes.hunks[0].id] });
      expect(readFileSync(path.join(ws, 'notes.txt'), 'utf8')).toContain('LINE TWO');
      expect(readFileSync(path.join(ws, 'notes.txt'), 'utf8')).not.toContain('LINE 28');
      await c.request(ShadowReject, { sessionId, hunks: [notes.hunks[1].id] });
      await c.request(ShadowUndo, { sessionId });
      expect(readFileSync(path.join(ws, 'notes.txt'), 'utf8')).toBe(lines);
      // The rest, accepted whole: the move, the folder replaced whole, the mode.
      await c.request(ShadowAccept, { sessionId });
      expect(existsSync(path.join(ws, 'old/name.txt'))).toBe(false);
      expect(readFileSync(path.join(ws, 'old2/name.txt'), 'utf8')).toBe('moved bytes\n');
      expect(existsSync(path.join(ws, 'out/stale.txt'))).toBe(false);
      expect(readFileSync(path.join(ws, 'out/new.txt'), 'utf8')).toBe('fresh\n');
      expect(statSync(path.join(ws, 'run.sh')).mode & 0o777).toBe(0o755);
      expect(existsSync(path.join(ws, 'gone.txt'))).toBe(false);
    }, 60_000);

    it('build output goes to the session cache: later commands see it, review counts it, a tracked file under build/ is reviewed', async (ctx) => {
      if (skip) return ctx.skip();
      const { ws, sessionId, shell } = await start({
        '.gitignore': '*.log\n',
        'build/keep.txt': 'tracked\n',
        'a.txt': 'A\n',
      });
      const r = await shell(
        'mkdir -p node_modules/dep dist && echo m > node_modules/dep/i.js && echo d > dist/app.js && echo l > run.log && echo t >> build/keep.txt && echo new > build/made.txt',
      );
      expect(exitOf(r), out(r)).toBe(0);
      const st = await c.request(ShadowStatus, { sessionId, includeIgnored: true });
      expect(st.files.map((f) => f.path)).toEqual(['build/keep.txt']);
      expect(st.ignored?.paths?.map((p) => p.path).sort()).toEqual([
        'build/made.txt',
        'dist',
        'node_modules',
        'run.log',
      ]);
      expect(st.ignored?.files).toBe(4);
      const later = await shell('cat node_modules/dep/i.js dist/app.js run.log && rm -rf dist && ls');
      expect(out(later)).toContain('m\nd\nl\n');
      expect(await shell('ls dist').then(exitOf)).not.toBe(0);
      expect(existsSync(path.join(ws, 'node_modules'))).toBe(false);
    }, 60_000);

    it('a command that rewrites .gitignore cannot hide its own writes from review', async (ctx) => {
      if (skip) return ctx.skip();
      const { sessionId, shell } = await start({ '.gitignore': '*.log\n', 'a.txt': 'A\n' });
      const r = await shell(
        'printf "*.log\\nloot.txt\\nnode_modules/x/\\n" > .gitignore && echo s > loot.txt && echo l > run.log',
      );
      expect(exitOf(r), out(r)).toBe(0);
      // The rules as they were before the run decide: loot.txt is reviewed, the new .gitignore too.
      const st = await c.request(ShadowStatus, { sessionId, includeIgnored: true });
      expect(st.files.map((f) => f.path).sort()).toEqual(['.gitignore', 'loot.txt']);
      expect(st.ignored?.paths?.map((p) => p.path)).toEqual(['run.log']);
    }, 60_000);

    it('review mode: network-off commands run without asking; network asks and the answer decides; the proxy checks hosts', async (ctx) => {
      if (skip) return ctx.skip();
      let hits = 0;
      const server = http.createServer((_q, res) => {
        hits++;
        res.end('reached the named host\n');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      try {
        const { ws, shell } = await start({ 'a.txt': 'A\n' });
        const asked: string[] = [];
        c.onPermission(async (q) => {
          asked.push(q.rule);
          return { outcome: 'allow_once' };
        });
        expect(exitOf(await shell('true'))).toBe(0);
        expect(asked).toEqual([]);
        // Asked (and allowed once); in review mode no rule allows the host: the proxy refuses it.
        const refused = await shell(`curl --noproxy '' -sS -m 5 http://127.0.0.1:${port}/`, { network: true });
        expect(asked).toEqual(['mode:review kind:execute network']);
        expect(out(refused)).toContain('policy_denied');
        expect(hits).toBe(0);
        // A rule naming the address and its port lets exactly it through.
        await c.request(PolicySetRules, {
          workspace: ws,
          add: [{ action: 'allow', tool: 'shell', kind: 'fetch', host: '127.0.0.1', port }],
          remove: [],
        });
        const ok = await shell(`curl --noproxy '' -sS -m 5 http://127.0.0.1:${port}/`, { network: true });
        expect(out(ok)).toContain('reached the named host');
        expect(hits).toBe(1);
        c.onPermission(async () => ({ outcome: 'deny' }));
        const denied = await shell('curl -sS https://example.com/', { network: true });
        expect(denied.isError).toBe(true);
        expect(denied.reason).toBe('user_denied');
      } finally {
        server.close();
      }
    }, 60_000);

    it('command rules: deny command="git push*" refuses it anywhere in the line, allow/ask rules match every command', async (ctx) => {
      if (skip) return ctx.skip();
      const { ws, shell } = await start({ 'a.txt': 'A\n' });
      await c.request(PolicySetRules, {
        workspace: ws,
        add: [
          { action: 'deny', command: 'git push*' },
          { action: 'ask', kind: 'execute', command: 'rm -rf *' },
        ],
        remove: [],
      });
      for (const cmd of ['git push origin main', 'true; git push', 'echo $(git push --force)']) {
        const r = await shell(cmd);
        expect(r.reason, cmd).toBe('policy_denied');
        expect(r.decision?.rule).toBe('project:deny command="git push*"');
      }
      let asked = 0;
      c.onPermission(async () => {
        asked++;
        return { outcome: 'deny' };
      });
      expect((await shell('ls && rm -rf build')).reason).toBe('user_denied');
      expect(asked).toBe(1);
      expect(exitOf(await shell('git status --short'))).toBe(0);
    }, 60_000);

    it('read-only mode: the command runs on a read-only workspace (EROFS), network is refused', async (ctx) => {
      if (skip) return ctx.skip();
      const { sessionId, shell } = await start({ 'a.txt': 'A\n' }, 'read-only');
      const r = await shell('cat a.txt; echo x > b.txt');
      expect(out(r)).toContain('A\n');
      expect(out(r)).toContain('Read-only file system');
      expect(r.content).toContain('read-only');
      expect((await c.request(ShadowStatus, { sessionId })).files).toEqual([]);
      const net = await shell('true', { network: true });
      expect(net.reason).toBe('policy_denied');
    }, 60_000);

    it('paths a deny rule keeps from the call are absent for the command; writes there are refused', async (ctx) => {
      if (skip) return ctx.skip();
      const { ws, sessionId, shell } = await start({
        'secrets/key.pem': 'KEY\n',
        'cfg/.env': 'TOKEN=x\n',
        'a.txt': 'A\n',
      });
      await c.request(PolicySetRules, {
        workspace: ws,
        add: [
          { action: 'deny', path: 'secrets/**' },
          { action: 'deny', path: '**/.env' },
        ],
        remove: [],
      });
      const r = await shell('ls; ls cfg; cat secrets/key.pem cfg/.env; echo y > cfg/.env; echo z > ok.txt');
      expect(out(r)).not.toContain('KEY');
      expect(out(r)).not.toContain('TOKEN');
      const st = await c.request(ShadowStatus, { sessionId });
      expect(st.files.map((f) => f.path)).toEqual(['ok.txt']);
      expect(r.content).toContain('not taken');
    }, 60_000);

    it('deny rules hide as the policy matches: another letter case, an alternation, a name holding a newline', async (ctx) => {
      if (skip) return ctx.skip();
      const { ws, shell } = await start({
        'secrets/key.pem': 'KEY1\n',
        'lib/pub/secret/key.txt': 'KEY2\n',
        'vault/a\nb': 'KEY3\n',
        'a.txt': 'A\n',
      });
      await c.request(PolicySetRules, {
        workspace: ws,
        add: [
          { action: 'deny', path: 'Secrets/**' },
          { action: 'deny', path: 'x/**|lib/pub/secret/**' },
          { action: 'deny', path: 'vault/**' },
        ],
        remove: [],
      });
      const r = await shell('cat a.txt secrets/key.pem lib/pub/secret/key.txt vault/*; ls -R');
      expect(out(r)).toContain('A');
      for (const k of ['KEY1', 'KEY2', 'KEY3']) expect(out(r)).not.toContain(k);
      // Nor through the repository's history: with a path denied, .git is withheld too.
      const h = await shell(
        "git -c safe.directory='*' show HEAD:secrets/key.pem; cat .git/HEAD; git log -p | head -50",
      );
      for (const k of ['KEY1', 'KEY2', 'KEY3', 'refs/heads']) expect(out(h)).not.toContain(k);
      // Nor from a git folder under another name that the workspace's .git file points to (--separate-git-dir).
      renameSync(path.join(ws, '.git'), path.join(ws, '.gitstore'));
      writeFileSync(path.join(ws, '.git'), 'gitdir: .gitstore\n');
      const g = await shell('git --git-dir=.gitstore show HEAD:secrets/key.pem; cat .gitstore/HEAD; ls -a');
      for (const k of ['KEY1', 'refs/heads']) expect(out(g)).not.toContain(k);
      expect(out(g)).not.toMatch(/^\.gitstore$/m); // not listed by ls -a
      // Nor from another version-control store (Subversion keeps a plain copy of each file in .svn/pristine).
      mkdirSync(path.join(ws, '.svn', 'pristine', 'ab'), { recursive: true });
      writeFileSync(path.join(ws, '.svn', 'pristine', 'ab', 'ab12.svn-base'), 'KEY4\n');
      const v = await shell('cat .svn/pristine/*/*; ls -a');
      expect(out(v)).not.toContain('KEY4');
      expect(out(v)).not.toMatch(/^\.svn$/m);
    }, 60_000);
  });
}
