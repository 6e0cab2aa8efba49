// The maintainer scripts in bundles/scripts (keygen, rotate-root, sign) run as processes against
// temporary folders, and the daemon side accepts what they produce. Needs the compiled daemon.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PrivateKeyFileSchema } from './crypto.js';
import { publishBundle, updateChannelIndex } from './publish.js';
import { createBundleService, REPO_ROOT } from './service.js';
import { testManifest } from './test-fixtures.js';

const run = promisify(execFile);
const script = (name: string) => join(REPO_ROOT, 'bundles', 'scripts', name);
let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sb-scripts-'));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function key(dir: string, file: string) {
  return PrivateKeyFileSchema().parse(JSON.parse(await readFile(join(dir, file), 'utf8')) as unknown);
}

describe('bundle scripts', () => {
  it('keygen → rotate-root twice → sign: a client that trusted v1 walks to v3 and installs', async () => {
    const priv = join(tmp, 'priv');
    const keys = join(tmp, 'keys');
    await run('node', [script('keygen.mjs'), '--out', priv, '--keys-dir', keys]);
    await expect(run('node', [script('keygen.mjs'), '--out', join(REPO_ROOT, 'bundles', 'x')])).rejects.toThrow(
      /inside the repository/,
    );
    const stateDir = join(tmp, 'state');
    const out = join(tmp, 'out');
    // First use: the client trusts root v1.
    expect(await createBundleService({ stateDir, trustedRootDir: keys, localOutputDir: out }).list()).toEqual([]);
    const bundles1 = await key(priv, 'bundles-1.json');
    await run('node', [script('rotate-root.mjs'), '--keys', priv, '--keys-dir', keys, '--rotate', 'root,bundles']);
    await run('node', [
      script('rotate-root.mjs'),
      '--keys',
      priv,
      '--keys-dir',
      keys,
      '--rotate',
      'index',
      '--revoke',
      bundles1.keyid,
    ]);
    // Publish with the v3 keys: bundles-2 signs the bundle, then sign.mjs adds nothing new but re-signs the index with index-3.
    const m = testManifest('demo', '1.0.0', { 'bin/demo.wasm': 'm' });
    const pub = await publishBundle(out, m, new Map([['bin/demo.wasm', Buffer.from('m')]]), [
      await key(priv, 'bundles-2.json'),
    ]);
    await updateChannelIndex({
      outDir: out,
      channel: 'stable',
      keys: [await key(priv, 'index-3.json')],
      now: new Date(),
      expiresInDays: 30,
      add: { demo: { '1.0.0': pub.entry } },
    });
    await run('node', [script('sign.mjs'), '--keys', priv, '--index', '--out', out]);
    const svc = createBundleService({ stateDir, trustedRootDir: keys, localOutputDir: join(tmp, 'no-local') });
    expect(await svc.install({ name: 'demo', mirror: out })).toMatchObject({ installed: true });
    expect(JSON.parse(await readFile(join(stateDir, 'bundles', 'trusted-root.json'), 'utf8'))).toMatchObject({
      signed: { version: 3, revoked: [bundles1.keyid] },
    });
    // A bundle signed only by the revoked v1 bundles key is refused.
    const old = await publishBundle(
      out,
      testManifest('old', '1.0.0', { 'bin/old.wasm': 'o' }),
      new Map([['bin/old.wasm', Buffer.from('o')]]),
      [bundles1],
    );
    await updateChannelIndex({
      outDir: out,
      channel: 'stable',
      keys: [await key(priv, 'index-3.json')],
      now: new Date(),
      expiresInDays: 30,
      add: { old: { '1.0.0': old.entry } },
    });
    await expect(svc.install({ name: 'old', mirror: out })).rejects.toMatchObject({ data: { reason: 'revoked_key' } });
  }, 60_000);
});
