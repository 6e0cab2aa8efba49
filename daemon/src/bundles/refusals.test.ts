import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { generateKey, publicOf } from './crypto.js';
import { signRoot } from './publish.js';
import { readTar, writeTar } from './tar.js';
import { createWorld, type World } from './test-fixtures.js';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  await w.cleanup();
});

async function refusal(p: Promise<unknown>): Promise<string> {
  const e = (await p.then(
    () => null,
    (err: unknown) => err,
  )) as { code?: number; data?: { reason?: string } } | null;
  expect(e, 'expected a refusal').not.toBeNull();
  expect(e?.code).toBe(ErrorCodes.BundleVerificationFailed);
  return e?.data?.reason ?? '';
}

async function rewriteArchive(
  name: string,
  version: string,
  edit: (entries: Array<{ path: string; bytes: Buffer }>) => void,
): Promise<void> {
  const p = join(w.outDir, name, version, 'bundle.tar');
  const entries = readTar(await readFile(p));
  edit(entries);
  await writeFile(p, writeTar(entries, 1700000000));
}

describe('install refuses tampered artifacts', () => {
  it('accepts an untouched official bundle from a mirror folder', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module', 'share/data.txt': 'data' });
    await w.index({ demo: { '1.0.0': e } });
    const s = await w.service().install({ name: 'demo', mirror: w.outDir });
    expect(s).toMatchObject({ name: 'demo', version: '1.0.0', installed: true, manifestSha256: e.manifestSha256 });
  });

  it('file_mismatch: a payload file whose bytes differ', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } });
    await rewriteArchive('demo', '1.0.0', (es) => {
      es.find((x) => x.path === 'files/bin/demo.wasm')!.bytes = Buffer.from('MODULE');
    });
    expect(await refusal(w.service().install({ name: 'demo' }))).toBe('file_mismatch');
  });

  it('file_mismatch: an extra file the manifest does not list (and too_large past the listed archive size)', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } });
    const svc = w.service();
    await svc.install({ name: 'demo' });
    const entry = join(w.stateDir, 'bundles', 'store', e.manifestSha256);
    await writeFile(join(entry, 'files', 'bin', 'extra.wasm'), 'x');
    expect(await refusal(svc.verifyPath(entry))).toBe('file_mismatch');
    await rewriteArchive('demo', '1.0.0', (es) => es.push({ path: 'files/bin/extra.wasm', bytes: Buffer.from('x') }));
    expect(await refusal(svc.install({ name: 'demo' }))).toBe('too_large');
  });

  it('manifest_tampered: manifest edited after signing', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } });
    await rewriteArchive('demo', '1.0.0', (es) => {
      const m = es.find((x) => x.path === 'manifest.json')!;
      const v = JSON.parse(m.bytes.toString()) as { capabilities: { netFetch: unknown } };
      v.capabilities.netFetch = { allow: ['https://evil.example'] };
      m.bytes = Buffer.from(JSON.stringify(v));
    });
    expect(await refusal(w.service().install({ name: 'demo' }))).toBe('manifest_tampered');
  });

  it('unknown_key: bundle signed by a key the root does not know', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' }, { signers: [generateKey()] });
    await w.index({ demo: { '1.0.0': e } });
    expect(await refusal(w.service().install({ name: 'demo', mirror: w.outDir }))).toBe('unknown_key');
  });

  it('unknown_key: the local build key is refused for any folder but the local output', async () => {
    const mirror = join(w.base, 'mirror');
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' }, { out: mirror, signers: [w.keys.local] });
    await w.index({ demo: { '1.0.0': e } }, { out: mirror, signers: [w.keys.local] });
    expect(await refusal(w.service().install({ name: 'demo', mirror }))).toBe('unknown_key');
    // The same bytes in the configured local output folder are accepted (same trust domain as the daemon's code).
    const e2 = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' }, { signers: [w.keys.local] });
    await w.index({ demo: { '1.0.0': e2 } }, { signers: [w.keys.local] });
    expect((await w.service().install({ name: 'demo' })).installed).toBe(true);
  });

  it('revoked_key: a key the root revoked does not count', async () => {
    const revokedKey = generateKey();
    const signed = structuredClone(w.rootSigned);
    signed.keys[revokedKey.keyid] = publicOf(revokedKey);
    signed.roles.bundles.keyids.push(revokedKey.keyid);
    signed.revoked = [revokedKey.keyid];
    await writeFile(join(w.keysDir, 'root.json'), JSON.stringify(signRoot(signed, [w.keys.root])));
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' }, { signers: [revokedKey] });
    await w.index({ demo: { '1.0.0': e } });
    expect(await refusal(w.service().install({ name: 'demo', mirror: w.outDir }))).toBe('revoked_key');
  });

  it('threshold: too few signatures', async () => {
    const second = generateKey();
    const signed = structuredClone(w.rootSigned);
    signed.keys[second.keyid] = publicOf(second);
    signed.roles.bundles = { keyids: [w.keys.bundles.keyid, second.keyid], threshold: 2 };
    await writeFile(join(w.keysDir, 'root.json'), JSON.stringify(signRoot(signed, [w.keys.root])));
    const one = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': one } });
    expect(await refusal(w.service().install({ name: 'demo', mirror: w.outDir }))).toBe('threshold');
    // The same key twice still counts once; two distinct keys pass.
    const both = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' }, { signers: [w.keys.bundles, second] });
    await w.index({ demo: { '1.0.0': both } });
    expect((await w.service().install({ name: 'demo', mirror: w.outDir })).installed).toBe(true);
  });

  it('rollback: an older index than one already seen; nothing persisted from a refused install', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } }, { version: 5 });
    const svc = w.service();
    await svc.install({ name: 'demo', mirror: w.outDir });
    await w.index({ demo: { '1.0.0': e } }, { version: 3 });
    expect(await refusal(svc.install({ name: 'demo', mirror: w.outDir }))).toBe('rollback');
    // An index v9 whose bundle fails must not raise the high-water mark: v6 is still accepted afterwards.
    await w.index({ demo: { '1.0.0': { ...e, manifestSha256: 'f'.repeat(64) } } }, { version: 9 });
    expect(await refusal(svc.install({ name: 'demo', mirror: w.outDir }))).toBe('mix_and_match');
    await w.index({ demo: { '1.0.0': e } }, { version: 6 });
    expect((await svc.install({ name: 'demo', mirror: w.outDir })).installed).toBe(true);
  });

  it('expired: an index past its expiry (freeze attack)', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } }, { expiresInDays: 1 });
    w.now = new Date(w.now.getTime() + 2 * 86_400_000);
    expect(await refusal(w.service().install({ name: 'demo', mirror: w.outDir }))).toBe('expired');
  });

  it('index_tampered: an index edited after signing', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } });
    const p = join(w.outDir, 'stable', 'index.json');
    const env = JSON.parse(await readFile(p, 'utf8')) as { signed: { expires: string } };
    env.signed.expires = '2099-01-01T00:00:00Z';
    await writeFile(p, JSON.stringify(env));
    expect(await refusal(w.service().install({ name: 'demo', mirror: w.outDir }))).toBe('index_tampered');
  });

  it('mix_and_match: another version served under the requested one', async () => {
    const v1 = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'old module' });
    const v2 = await w.publish('demo', '2.0.0', { 'bin/demo.wasm': 'new module' });
    await w.index({ demo: { '1.0.0': v1, '2.0.0': v2 } });
    const v1dir = join(w.outDir, 'demo', '1.0.0');
    const v2dir = join(w.outDir, 'demo', '2.0.0');
    const keep = {
      tar: await readFile(join(v2dir, 'bundle.tar')),
      sig: await readFile(join(v2dir, 'manifest.sig.json')),
    };
    for (const f of ['bundle.tar', 'manifest.sig.json'])
      await writeFile(join(v2dir, f), await readFile(join(v1dir, f)));
    expect(await refusal(w.service().install({ name: 'demo', version: '2.0.0', mirror: w.outDir }))).toBe(
      'mix_and_match',
    );
    // A single file taken from v1 inside v2's otherwise genuine archive.
    await writeFile(join(v2dir, 'bundle.tar'), keep.tar);
    await writeFile(join(v2dir, 'manifest.sig.json'), keep.sig);
    await rewriteArchive('demo', '2.0.0', (es) => {
      es.find((x) => x.path === 'files/bin/demo.wasm')!.bytes = Buffer.from('old module');
    });
    expect(await refusal(w.service().install({ name: 'demo', version: '2.0.0', mirror: w.outDir }))).toBe(
      'mix_and_match',
    );
  });

  it('not_in_index: a validly signed bundle the index does not list', async () => {
    const listed = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.publish('demo', '1.1.0', { 'bin/demo.wasm': 'unlisted' });
    await w.index({ demo: { '1.0.0': listed } });
    expect(await refusal(w.service().verifyPath(join(w.outDir, 'demo', '1.1.0')))).toBe('not_in_index');
    expect(await refusal(w.service().install({ name: 'demo', version: '1.1.0', mirror: w.outDir }))).toBe(
      'not_in_index',
    );
  });

  it('invalid_path: `..` in a signed manifest, and a symlink entry in an archive', async () => {
    await expect(w.publish('demo', '1.0.0', { '../escape.wasm': 'x' })).rejects.toMatchObject({
      data: { reason: 'invalid_path' },
    });
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } });
    const p = join(w.outDir, 'demo', '1.0.0', 'bundle.tar');
    const tar = Buffer.from(await readFile(p));
    // Turn the first entry (files/bin/demo.wasm sorts first) into a symlink and fix the header checksum.
    tar[156] = '2'.charCodeAt(0);
    tar.write('        ', 148, 'ascii');
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += tar[i];
    tar.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    await writeFile(p, tar);
    expect(await refusal(w.service().install({ name: 'demo', mirror: w.outDir }))).toBe('invalid_path');
  });

  it('a refused install leaves no entry and no staging folder: the files it wrote streaming in were never the store', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module', 'lib/data.txt': 'datum' });
    await w.index({ demo: { '1.0.0': e } });
    const p = join(w.outDir, 'demo', '1.0.0', 'bundle.tar');
    const original = await readFile(p);
    const storeDir = join(w.stateDir, 'bundles', 'store');
    const tamperings: Array<[string, () => Promise<void>]> = [
      [
        'file_mismatch',
        () =>
          rewriteArchive('demo', '1.0.0', (es) => {
            es.find((x) => x.path === 'files/lib/data.txt')!.bytes = Buffer.from('DATUM');
          }),
      ],
      // Ends inside the first file's data: refused as it ends, not installed as a shorter bundle.
      ['archive_invalid', () => writeFile(p, original.subarray(0, 512 + 3))],
      // A name no signed manifest lists, where the next entry needs a folder (files/bin, then files/bin/demo.wasm):
      // not written (only what the verified manifest.json lists is), so no collision on disk either.
      [
        'file_mismatch',
        () =>
          rewriteArchive('demo', '1.0.0', (es) => {
            es.find((x) => x.path === 'files/lib/data.txt')!.path = 'files/bin';
          }),
      ],
    ];
    for (const [reason, tamper] of tamperings) {
      await writeFile(p, original);
      await tamper();
      expect(await refusal(w.service().install({ name: 'demo' })), reason).toBe(reason);
      expect(await readdir(storeDir), reason).toEqual([]);
    }
    await writeFile(p, original);
    await w.service().install({ name: 'demo' });
    expect(await readdir(storeDir)).toEqual([e.manifestSha256]);
  });
});
