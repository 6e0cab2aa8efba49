// The release's trust chain end to end, through real npm installs of packed tarballs: a root key that
// stays offline delegates to a release key; the root rotates (v1 → v2, a new release key, the old one
// revoked) and an installed shadowbox follows it from the bundle package's keys/; afterwards a package
// signed by the revoked release key is refused, and the bundle installed before keeps running.
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../..', import.meta.url));
const jqBuilt = existsSync(path.join(REPO, 'bundles/out/jq/1.6.0/bundle.tar'));
if (!jqBuilt && process.env.SHADOWBOX_REQUIRE_BUNDLES)
  throw new Error('SHADOWBOX_REQUIRE_BUNDLES is set but jq is not built: node bundles/scripts/build.mjs jq');
if (!jqBuilt) console.log('test/release: skipped (bundles/out/jq not built; scripts/setup.sh builds it)');

let work: string;
let prefix: string;
const stateDirs: string[] = [];

async function node(script: string, args: string[]): Promise<string> {
  return (await run(process.execPath, [path.join(REPO, script), ...args], { cwd: REPO })).stdout;
}

async function pack(keys: string, out: string): Promise<void> {
  await node('scripts/release/pack.mjs', [
    '--keys',
    keys,
    '--root-dir',
    path.join(work, 'root'),
    '--bundles',
    'jq',
    '--out',
    out,
  ]);
}

async function npmInstall(tarballs: string[]): Promise<void> {
  await run(
    'npm',
    ['install', '-g', '--offline', '--no-audit', '--no-fund', '--no-update-notifier', '--prefix', prefix, ...tarballs],
    {
      env: { ...process.env, HOME: path.join(work, 'home') },
    },
  );
}

/** Runs the installed `shadowbox` (the packed bundle, not this checkout) with its own state dir. */
async function shadowbox(state: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!stateDirs.includes(state)) stateDirs.push(state);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.join(prefix, 'bin')}:${process.env.PATH ?? ''}`,
    SHADOWBOX_STATE_DIR: state,
    SHADOWBOX_CACHE_DIR: path.join(work, 'cache'),
  };
  // This checkout's own daemon settings must not leak into the installed one.
  for (const k of ['SHADOWBOX_SOCKET', 'SHADOWBOX_BIN', 'XDG_RUNTIME_DIR', 'SHADOWBOX_BUNDLE_MIRROR']) delete env[k];
  // stdin closed: `wasi run` passes piped input to the module and would wait for an open pipe.
  const child = spawn(path.join(prefix, 'bin', 'shadowbox'), args, {
    cwd: path.join(work, 'project'),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)));
  return { code, stdout, stderr };
}

async function keyId(file: string): Promise<string> {
  return (JSON.parse(await readFile(file, 'utf8')) as { keyid: string }).keyid;
}

async function moveKeys(from: string, prefixName: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o700 });
  for (const f of await readdir(from)) if (f.startsWith(prefixName)) await rename(path.join(from, f), path.join(to, f));
}

beforeAll(async () => {
  if (!jqBuilt) return;
  work = await mkdtemp(path.join(os.tmpdir(), 'sb-release-keys-'));
  prefix = path.join(work, 'prefix');
  await mkdir(path.join(work, 'project'), { recursive: true });
  await mkdir(path.join(work, 'home'), { recursive: true });
}, 30_000);

afterAll(async () => {
  if (!jqBuilt) return;
  for (const s of stateDirs) await shadowbox(s, ['stop']);
  await rm(work, { recursive: true, force: true });
}, 60_000);

describe.skipIf(!jqBuilt)('release keys end to end (npm pack → npm install → shadowbox)', () => {
  it('root rotation with a revoked release key', async () => {
    const offline = path.join(work, 'offline');
    // Ceremony: root v1 + release key 1; the release key leaves the offline folder, the root key stays.
    await node('bundles/scripts/keygen.mjs', ['--release', '--out', offline, '--keys-dir', path.join(work, 'root')]);
    // The root key never signs a release: pack.mjs refuses a key folder that holds one.
    await expect(pack(offline, path.join(work, 'r0'))).rejects.toThrow(/holds a root key/);
    await moveKeys(offline, 'release-1', path.join(work, 'release-1'));
    const k1 = await keyId(path.join(work, 'release-1', 'release-1.pub.json'));
    await pack(path.join(work, 'release-1'), path.join(work, 'r1'));
    await npmInstall((await readdir(path.join(work, 'r1'))).map((f) => path.join(work, 'r1', f)));

    const s1 = path.join(work, 'state-1');
    const first = await shadowbox(s1, ['wasi', 'run', 'jq', '--', '-n', '1+1']);
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout.trim()).toBe('2');
    const installed1 = JSON.parse(await readFile(path.join(s1, 'bundles', 'installed.json'), 'utf8')) as {
      bundles: { jq: Record<string, { source: string; keyIds: string[] }> };
    };
    expect(installed1.bundles.jq['1.6.0']).toMatchObject({ keyIds: [k1] });
    expect(installed1.bundles.jq['1.6.0']?.source).toContain('@shadowbox/bundle-jq');

    // Rotation: root v2 (signed by the old and the new root key), release key 2, release key 1 revoked.
    await node('bundles/scripts/rotate-root.mjs', [
      '--keys',
      offline,
      '--keys-dir',
      path.join(work, 'root'),
      '--rotate',
      'root,release',
      '--revoke',
      k1,
    ]);
    await moveKeys(offline, 'release-2', path.join(work, 'release-2'));
    const k2 = await keyId(path.join(work, 'release-2', 'release-2.pub.json'));
    await pack(path.join(work, 'release-2'), path.join(work, 'r2'));
    const jq2 = path.join(work, 'r2', 'shadowbox-bundle-jq-1.6.0.tgz');
    const jq1 = path.join(work, 'r1', 'shadowbox-bundle-jq-1.6.0.tgz');
    await npmInstall([jq2]);

    // The installed shadowbox still ships root v1: it walks to v2 from the new package's keys/.
    const moved = await shadowbox(s1, ['bundles', 'install', 'jq']);
    expect(moved).toMatchObject({ code: 0 });
    // Progress on stderr, phase by phase, ending verified.
    expect(moved.stderr).toContain('jq@1.6.0 from package:');
    expect(moved.stderr).toContain('[100%] jq@1.6.0');
    const trusted = JSON.parse(await readFile(path.join(s1, 'bundles', 'trusted-root.json'), 'utf8')) as {
      signed: { version: number; revoked: string[] };
    };
    expect(trusted.signed.version).toBe(2);
    expect(trusted.signed.revoked).toContain(k1);
    const installed2 = JSON.parse(await readFile(path.join(s1, 'bundles', 'installed.json'), 'utf8')) as {
      bundles: { jq: Record<string, { keyIds: string[] }> };
    };
    expect(installed2.bundles.jq['1.6.0']).toMatchObject({ keyIds: [k2] });
    expect((await shadowbox(s1, ['wasi', 'run', 'jq', '--', '-n', '2+2'])).stdout.trim()).toBe('4');

    // A brand-new state dir with the same install: root v1 from the package, v2 from keys/, then installs.
    const fresh = await shadowbox(path.join(work, 'state-2'), ['wasi', 'run', 'jq', '--', '-n', '3+3']);
    expect(fresh.stdout.trim()).toBe('6');

    // The old package (signed only by the revoked release key) comes back: refused, nothing replaced.
    await npmInstall([jq1]);
    const refused = await shadowbox(s1, ['bundles', 'install', 'jq']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('revoked_key');
    const after = JSON.parse(await readFile(path.join(s1, 'bundles', 'installed.json'), 'utf8')) as {
      bundles: { jq: Record<string, { keyIds: string[] }> };
    };
    expect(after.bundles.jq['1.6.0']).toMatchObject({ keyIds: [k2] });
    expect((await shadowbox(s1, ['wasi', 'run', 'jq', '--', '-n', '5+5'])).stdout.trim()).toBe('10');
  }, 300_000);
});
