// Protected paths hold for sandboxed code too: python and bundles write through the shadow layer, which refuses
// the policy's protected globs (defaults and the project's own list) — not only the built-in tools' declared paths.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionCreate, ShadowDiff, ToolsCall } from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

describe('protected paths against sandboxed writers', () => {
  let d: TestDaemon;
  beforeAll(async () => {
    d = await startTestDaemon({ web: false });
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
  });

  it('refuses python writes to .git/ and .shadowbox/, keeps the allowed write reviewable', async () => {
    const ws = await makeTempDir('ws');
    await mkdir(path.join(ws, '.git'));
    await writeFile(path.join(ws, '.git', 'config'), '[core]\n');
    const c = await d.connect();
    const s = await c.request(SessionCreate, { workspace: ws });
    const code = [
      'import os',
      'for p in [".git/hooks-pwned", ".shadowbox/policy.json", "ok.txt"]:',
      '    d = os.path.dirname(p)',
      '    if d: os.makedirs(d, exist_ok=True)',
      '    open(p, "w").write("x")',
      'print("wrote")',
    ].join('\n');
    const r = await c.request(ToolsCall, { sessionId: s.sessionId, tool: 'python', input: { code } });
    // The guest's writes are applied to the shadow after the run; the protected ones are refused there.
    const diff = await c.request(ShadowDiff, { sessionId: s.sessionId });
    const paths = diff.files.map((f) => f.path);
    expect(paths).toContain('ok.txt');
    expect(paths.some((p) => p.startsWith('.git/') || p.startsWith('.shadowbox/'))).toBe(false);
    expect(JSON.stringify(r.data ?? {})).toContain('protected');
    expect(existsSync(path.join(ws, '.git', 'hooks-pwned'))).toBe(false);
    c.dispose();
  }, 60_000);
});
