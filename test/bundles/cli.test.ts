// Signed bundles through the CLI and the protocol: list, verify (and refuse a tampered archive), and install
// over HTTP from another daemon's /bundles/ mirror into a fresh state dir.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, repoRoot, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';

const jqDir = path.join(repoRoot, 'bundles/out/jq/1.6.0');

describe('shadowbox bundles', () => {
  let mirror: TestDaemon;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    mirror = await startTestDaemon();
    const st = await makeTempDir('st');
    env = { ...process.env, SHADOWBOX_STATE_DIR: st, SHADOWBOX_SOCKET: path.join(st, 'd.sock'), NO_COLOR: '1' };
  });
  afterAll(async () => {
    await runCli(['stop'], env).catch(() => undefined);
    await mirror.stop();
    await mirror.cleanup();
  });

  it('lists the official bundles and verifies one', async () => {
    const list = await runCli(['bundles', 'list', '--json'], env);
    expect(list.code).toBe(0);
    const names = (JSON.parse(list.stdout) as { bundles: { name: string }[] }).bundles.map((b) => b.name);
    expect(names).toEqual(expect.arrayContaining(['jq', 'sqlite', 'python']));
    const v = await runCli(['bundles', 'verify', path.join(jqDir, 'bundle.tar')], env);
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('jq@1.6.0 verified');
  });

  it('refuses an unsigned or tampered archive with a typed reason and exit 1', async () => {
    const dir = await makeTempDir('tampered');
    await copyFile(path.join(jqDir, 'bundle.tar'), path.join(dir, 'bundle.tar'));
    const unsigned = await runCli(['bundles', 'verify', path.join(dir, 'bundle.tar')], env);
    expect(unsigned.code).toBe(1);
    expect(unsigned.stderr).toContain('signature_missing');
    await copyFile(path.join(jqDir, 'manifest.sig.json'), path.join(dir, 'manifest.sig.json'));
    // Outside the local build output, the local build key is not trusted until a person says so.
    const untrusted = await runCli(['bundles', 'verify', path.join(dir, 'bundle.tar')], env);
    expect(untrusted.stderr).toContain('unknown_key');
    expect(
      (await runCli(['bundles', 'trust', path.join(repoRoot, 'bundles/.cache/keys/local-build.pub.json')], env)).code,
    ).toBe(0);
    expect((await runCli(['bundles', 'verify', path.join(dir, 'bundle.tar')], env)).code).toBe(0);
    const tar = await readFile(path.join(jqDir, 'bundle.tar'));
    // Flip one byte inside the WebAssembly payload.
    tar[tar.indexOf(Buffer.from('\0asm')) + 4096] ^= 0xff;
    await writeFile(path.join(dir, 'bundle.tar'), tar);
    const v = await runCli(['bundles', 'verify', path.join(dir, 'bundle.tar')], env);
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/-337\d\d (file_mismatch|manifest_tampered|archive_invalid)/);
  });

  it("installs over HTTP from another daemon's /bundles/ mirror, verifying before storing", async () => {
    const url = `${mirror.webUrl!.replace(/\/$/, '')}/bundles/`;
    // The local build key was trusted explicitly in the previous test (a fresh state dir refuses it from a mirror).
    const serve = await runCli(['bundles', 'serve', '--state-dir', mirror.stateDir], {
      ...env,
      SHADOWBOX_STATE_DIR: mirror.stateDir,
      SHADOWBOX_SOCKET: mirror.socketPath,
    });
    expect(serve.stdout).toContain(url);
    const r = await runCli(['bundles', 'install', 'jq', '--mirror', url, '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'jq', version: '1.6.0', installed: true });
    expect((JSON.parse(r.stdout) as { source: string }).source).toContain('http://');

    // A mirror that serves a tampered archive is refused and nothing is stored.
    const bad = await makeTempDir('badmirror');
    await mkdir(path.join(bad, 'jq', '1.6.0'), { recursive: true });
    await mkdir(path.join(bad, 'stable'), { recursive: true });
    for (const f of ['manifest.json', 'manifest.sig.json'])
      await copyFile(path.join(jqDir, f), path.join(bad, 'jq/1.6.0', f));
    await copyFile(path.join(repoRoot, 'bundles/out/stable/index.json'), path.join(bad, 'stable/index.json'));
    const tar = await readFile(path.join(jqDir, 'bundle.tar'));
    tar[tar.indexOf(Buffer.from('\0asm')) + 4096] ^= 0xff;
    await writeFile(path.join(bad, 'jq/1.6.0/bundle.tar'), tar);
    const st2 = await makeTempDir('st');
    const env2 = { ...env, SHADOWBOX_STATE_DIR: st2, SHADOWBOX_SOCKET: path.join(st2, 'd.sock') };
    expect(
      (await runCli(['bundles', 'trust', path.join(repoRoot, 'bundles/.cache/keys/local-build.pub.json')], env2)).code,
    ).toBe(0);
    const r2 = await runCli(['bundles', 'install', 'jq', '--mirror', bad], env2);
    expect(r2.stderr).toMatch(/-337\d\d/);
    expect(r2.code).toBe(1);
    // (The daemon installs the local build output on first use; nothing came from the bad mirror.)
    const list = JSON.parse((await runCli(['bundles', 'list', '--json'], env2)).stdout) as {
      bundles: { name: string; source: string }[];
    };
    expect(list.bundles.filter((b) => b.source.includes(bad))).toEqual([]);
    await runCli(['stop'], env2);
  }, 60_000);
});
