// Issue 14 §4, reproduced: with `deny path=secrets/**`, grep without a path, Python open(), sqlite
// readfile() and `run_bundle jq /workspace/secrets/key.txt` returned the secret, Python wrote
// secrets/py.txt, and glob/list_dir listed the names. A denied path is invisible or refused whichever tool
// reaches it: every call gets a view that refuses the paths its deny rules name (tools/restricted-view.ts).
import { existsSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PolicySetRules, SessionCreate, ShadowDiff, ToolsCall } from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import { makeTempDir, repoRoot, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

const SECRET = 'TOPSECRET-4f1c';

describe('a denied path is invisible or refused for every tool', () => {
  let d: TestDaemon;
  let c: ShadowboxClient;
  let ws: string;
  let sessionId: string;
  const call = async (tool: string, input: Record<string, unknown>) => {
    const r = await c.request(ToolsCall, { sessionId, tool, input });
    return { ...r, all: `${r.content}\n${JSON.stringify(r.data ?? {})}` };
  };

  beforeAll(async () => {
    for (const b of ['jq', 'sqlite', 'python'])
      if (!existsSync(path.join(repoRoot, 'bundles/out', b)))
        throw new Error(`bundle ${b} is not built: run \`node bundles/scripts/build.mjs ${b}\``);
    d = await startTestDaemon({ web: false });
    c = await d.connect('denied');
    ws = await makeTempDir('denied');
    await mkdir(path.join(ws, 'secrets'));
    await mkdir(path.join(ws, 'pub'));
    await writeFile(path.join(ws, 'secrets', 'key.txt'), `${SECRET}\n`);
    await writeFile(path.join(ws, 'secrets', 'key.json'), JSON.stringify({ key: SECRET }));
    await writeFile(path.join(ws, 'pub', 'a.txt'), 'public text\n');
    await symlink('../secrets/key.txt', path.join(ws, 'pub', 'link.txt'));
    sessionId = (await c.request(SessionCreate, { workspace: ws, mode: 'auto' })).sessionId;
    await c.request(PolicySetRules, { workspace: ws, add: [{ action: 'deny', path: 'secrets/**' }] });
  }, 120_000);
  afterAll(async () => {
    c?.dispose();
    await d?.stop();
    await d?.cleanup();
  });

  it('grep without a path does not reveal the secret or its name', async () => {
    const r = await call('grep', { pattern: 'SECRET|public' });
    expect(r.isError).toBe(false);
    expect(r.all).toContain('pub/a.txt');
    expect(r.all).not.toContain(SECRET);
    expect(r.all).not.toContain('secrets/');
  });

  it('glob and list_dir do not list denied names; listing the folder itself is refused', async () => {
    const g = await call('glob', { pattern: '**/*' });
    expect(g.all).toContain('pub/a.txt');
    expect(g.all).not.toContain('secrets');
    const l = await call('list_dir', { path: '', depth: 3 });
    expect(l.all).toContain('pub');
    expect(l.all).not.toContain('secrets');
    expect(l.all).not.toContain('link.txt'); // a link into a denied path is as invisible as the path
    const inside = await call('list_dir', { path: 'secrets' });
    expect(inside.isError).toBe(true);
    expect(inside.all).not.toContain('key.txt');
  });

  it('read_file is refused, also through a symlink into the denied folder', async () => {
    for (const p of ['secrets/key.txt', 'pub/link.txt', './secrets/../secrets/key.txt']) {
      const r = await call('read_file', { path: p });
      expect(r.isError, p).toBe(true);
      expect(r.reason, p).toBe('policy_denied');
      expect(r.all, p).not.toContain(SECRET);
    }
  });

  it('python open() cannot read it, os.listdir does not show it, and its writes there are refused', async () => {
    const code = [
      'import os',
      'print(sorted(os.listdir(".")))',
      'for p in ["secrets/key.txt", "pub/link.txt"]:',
      '    try:',
      '        print(p, open(p).read())',
      '    except OSError as e:',
      '        print(p, "refused", type(e).__name__)',
      'os.makedirs("secrets", exist_ok=True)',
      'open("secrets/py.txt", "w").write("planted")',
      'open("pub/ok.txt", "w").write("fine")',
    ].join('\n');
    const r = await call('python', { code });
    const data = r.data as { stdout: string; stderr: string };
    expect(data.stdout).not.toContain(SECRET);
    expect(data.stdout).toContain("['pub']");
    expect(data.stdout).toContain('secrets/key.txt refused');
    expect(data.stdout).toContain('pub/link.txt refused');
    const diff = await c.request(ShadowDiff, { sessionId });
    const changed = diff.files.map((f) => f.path);
    expect(changed).toContain('pub/ok.txt');
    expect(changed.filter((p) => p.startsWith('secrets'))).toEqual([]);
    expect(r.all).toContain('path_denied');
  }, 60_000);

  it('sqlite readfile() and run_bundle jq on the path get nothing', async () => {
    const sql = await call('run_bundle', {
      bundle: 'sqlite',
      args: [':memory:', "select coalesce(readfile('/workspace/secrets/key.txt'), 'NULL');"],
    });
    expect(sql.all).not.toContain(SECRET);
    const jq = await call('run_bundle', { bundle: 'jq', args: ['.', '/workspace/secrets/key.json'] });
    expect(jq.all).not.toContain(SECRET);
    expect(jq.isError).toBe(true);
    // The public file stays readable by the same tools.
    const ok = await call('run_bundle', { bundle: 'jq', args: ['-R', '.', '/workspace/pub/a.txt'] });
    expect(ok.all).toContain('public text');
  }, 60_000);
});
