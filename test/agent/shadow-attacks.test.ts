// Issue 14 §1 and §4 through a real daemon: a deny rule on edits holds for sandboxed python too, sandboxed
// python cannot make accept write through a symlink, and `shadowbox stop` ends the process while a call is
// still running. Needs the official bundles (scripts/setup.sh builds them).
import { existsSync, lstatSync, readdirSync, symlinkSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicySetRules, SessionCreate, ShadowAccept, ShadowStatus, ToolsCall } from '@shadowbox/protocol';
import { makeTempDir, repoRoot, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

describe('the shadow under attack, through the daemon', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    for (const b of ['jq', 'sqlite', 'python'])
      if (!existsSync(path.join(repoRoot, 'bundles/out', b)))
        throw new Error(`bundle ${b} is not built: run \`node bundles/scripts/build.mjs ${b}\``);
    d = await startTestDaemon({ web: false });
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
  });

  it('deny kind=edit path=vendor/** holds for sandboxed python too (it writes through the view as kind execute)', async () => {
    const ws = await makeTempDir('ws');
    await mkdir(path.join(ws, 'vendor'));
    await writeFile(path.join(ws, 'vendor/lib.js'), 'original\n');
    const c = await d.connect();
    await c.request(PolicySetRules, {
      workspace: ws,
      add: [{ action: 'deny', kind: 'edit', path: 'vendor/**' }],
      remove: [],
    });
    const s = await c.request(SessionCreate, { workspace: ws, mode: 'auto' });
    const r = await c.request(ToolsCall, {
      sessionId: s.sessionId,
      tool: 'python',
      input: { code: 'open("vendor/lib.js", "w").write("patched\\n")\nopen("ok.txt", "w").write("y")\nprint("ran")' },
    });
    expect(r.content).toContain('ran');
    expect(JSON.stringify(r.data)).toContain('protected_path');
    const st = await c.request(ShadowStatus, { sessionId: s.sessionId });
    expect(st.files.map((f) => f.path)).toEqual(['ok.txt']);
    c.dispose();
  }, 120_000);

  it('sandboxed python alone (rmtree, makedirs, write) cannot make accept write through a symlink', async () => {
    const ws = await makeTempDir('ws');
    const outside = await makeTempDir('outside');
    await writeFile(path.join(outside, 'existing.txt'), 'theirs\n');
    await mkdir(path.join(ws, 'vendor'));
    await writeFile(path.join(ws, 'vendor/keep.txt'), 'K\n');
    symlinkSync(outside, path.join(ws, 'vendor/shared'));
    await mkdir(path.join(ws, '.git/hooks'), { recursive: true });
    await mkdir(path.join(ws, 'tools'));
    symlinkSync('../.git', path.join(ws, 'tools/gitdir'));
    const c = await d.connect();
    const s = await c.request(SessionCreate, { workspace: ws });
    const r = await c.request(ToolsCall, {
      sessionId: s.sessionId,
      tool: 'python',
      input: {
        code: [
          'import os, shutil',
          'for top, sub in [("vendor", "vendor/shared"), ("tools", "tools/gitdir/hooks")]:',
          '    shutil.rmtree(top)',
          '    os.makedirs(sub)',
          '    open(sub + "/pwn.txt", "w").write("pwn\\n")',
          'print("ok")',
        ].join('\n'),
      },
    });
    expect(r.content).toContain('ok');
    // Whatever the view took (a write through a link outside is refused there; a link's removal is a reviewed
    // change of its own), accepting all of it writes nothing outside the workspace and nothing into .git.
    await c.request(ShadowAccept, { sessionId: s.sessionId });
    expect(readdirSync(outside)).toEqual(['existing.txt']);
    expect(readdirSync(path.join(ws, '.git/hooks'))).toEqual([]);
    const shared = lstatSync(path.join(ws, 'vendor/shared'));
    expect(shared.isSymbolicLink() || shared.isDirectory()).toBe(true);
    const st = await c.request(ShadowStatus, { sessionId: s.sessionId });
    expect(st.files.filter((f) => f.path.startsWith('.git'))).toEqual([]);
    c.dispose();
  }, 120_000);

  it('a write_file thousands of folders deep is refused at once, and stop ends the daemon while a call still runs', async () => {
    const own = await startTestDaemon({ web: false });
    try {
      const ws = await makeTempDir('ws');
      const c = await own.connect();
      const s = await c.request(SessionCreate, { workspace: ws, mode: 'auto' });
      const deep = await c.request(ToolsCall, {
        sessionId: s.sessionId,
        tool: 'write_file',
        input: { path: `${'d/'.repeat(5000)}x.txt`, content: 'x' },
      });
      expect(deep.isError).toBe(true);
      expect(deep.content).toContain('path_too_deep');
      // A call that never ends by itself: the stop must not wait for it.
      void c
        .request(ToolsCall, {
          sessionId: s.sessionId,
          tool: 'python',
          input: { code: 'print("spinning", flush=True)\nwhile True: pass', timeoutMs: 600_000 },
        })
        .catch(() => undefined);
      const stop = await runCli(['stop'], own.env);
      expect(stop.code).toBe(0);
      expect(
        await new Promise((r) => (own.child.exitCode !== null ? r(own.child.exitCode) : own.child.once('exit', r))),
      ).toBe(0);
    } finally {
      await own.cleanup();
    }
  }, 120_000);
});
