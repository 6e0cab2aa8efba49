// `shadowbox bundles build` says what it is doing while it works, and a build served from the cache leaves
// the published files alone (same bytes: not rewritten, so their mtimes and inodes stay).
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir, runCli } from '../helpers/daemon.js';

describe('shadowbox bundles build', () => {
  it('shows progress on stderr and does not rewrite cached outputs', async () => {
    const out = await makeTempDir('bundles-out');
    const env = { ...process.env, NO_COLOR: '1' };
    const first = await runCli(['bundles', 'build', 'jq', '--out', out], env, { timeoutMs: 600_000 });
    expect(first.code, first.stderr).toBe(0);
    // Each step on its own line, with the time since the start.
    expect(first.stderr).toMatch(/^jq +\d+\.\d s {2}recipe [0-9a-f]{12}/m);
    expect(first.stderr).toMatch(/^jq +\d+\.\d s {2}signing and publishing into /m);
    const files = ['jq/1.6.0/bundle.tar', 'jq/1.6.0/manifest.json', 'jq/1.6.0/manifest.sig.json', 'stable/index.json'];
    const before = await Promise.all(files.map((f) => stat(path.join(out, f))));

    const again = await runCli(['bundles', 'build', 'jq', '--out', out], env, { timeoutMs: 600_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/recipe [0-9a-f]{12} unchanged: using the cached build/);
    expect(again.stdout).toContain('jq@1.6.0: cached (recipe unchanged)');
    const after = await Promise.all(files.map((f) => stat(path.join(out, f))));
    for (let i = 0; i < files.length; i++) {
      expect(after[i].mtimeMs, files[i]).toBe(before[i].mtimeMs);
      expect(after[i].ino, files[i]).toBe(before[i].ino);
    }
  }, 900_000);
});
