import { statSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntryInput } from '../audit/sink.js';
import { ErrorCodes } from '../errors.js';
import { sha256Hex } from './crypto.js';
import { createWorld, type World } from './test-fixtures.js';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  await w.cleanup();
});

describe('store and load', () => {
  it('a brand-new state dir installs from the local build output on first load, with no extra step', async () => {
    const e = await w.publish(
      'demo',
      '1.0.0',
      { 'bin/demo.wasm': 'module bytes', 'lib/data.txt': 'data' },
      { signers: [w.keys.local] },
    );
    await w.index({ demo: { '1.0.0': e } }, { signers: [w.keys.local] });
    const audit: AuditEntryInput[] = [];
    const svc = w.service({ audit: { append: async (x) => void audit.push(x) } });
    const b = await svc.load('demo');
    expect(b).toMatchObject({ name: 'demo', version: '1.0.0', manifestSha256: e.manifestSha256 });
    expect(b.entry.bytes.toString()).toBe('module bytes');
    expect(b.entry.path).toBe(join(w.stateDir, 'bundles', 'store', e.manifestSha256, 'files', 'bin', 'demo.wasm'));
    expect(b.tools.map((t) => t.name)).toEqual(['demo']);
    expect(audit.map((a) => a.type)).toEqual(['bundle.install']);
    expect(audit[0].data).toMatchObject({ authority: `local:${w.keys.local.keyid}`, source: 'local' });
    expect((await svc.list()).map((s) => [s.name, s.installed])).toEqual([['demo', true]]);
    // The store entry keeps the trust of its local origin when verified again.
    expect((await svc.verifyPath(b.dir)).authority).toBe(`local:${w.keys.local.keyid}`);
  });

  it('concurrent first loads install once and both succeed', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } });
    const audit: AuditEntryInput[] = [];
    const svc = w.service({ audit: { append: async (x) => void audit.push(x) } });
    const [a, b] = await Promise.all([svc.load('demo'), svc.load('demo')]);
    expect(a.manifestSha256).toBe(b.manifestSha256);
    expect(audit.filter((x) => x.type === 'bundle.install').length).toBe(1);
  });

  it('an install asked for while another first-use install of it runs waits for that one (one install, its progress only to the first)', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } });
    const audit: AuditEntryInput[] = [];
    const svc = w.service({ audit: { append: async (x) => void audit.push(x) } });
    const first: string[] = [];
    const second: string[] = [];
    const [a, b, loaded] = await Promise.all([
      svc.install({ name: 'demo' }, (p) => first.push(p.phase)),
      svc.install({ name: 'demo' }, (p) => second.push(p.phase)),
      svc.load('demo'),
    ]);
    expect(a).toEqual(b);
    expect(loaded.manifestSha256).toBe(e.manifestSha256);
    expect(audit.filter((x) => x.type === 'bundle.install').length).toBe(1);
    expect(first.length).toBeGreaterThan(0);
    expect(second).toEqual([]);
    // Once it is done, an install is a fresh one again (nothing left in flight).
    await svc.install({ name: 'demo' }, (p) => second.push(p.phase));
    expect(second.length).toBeGreaterThan(0);
  });

  it('an install keeps the verified hashes of the files it wrote (a first load need not read them); a file changed after is refused', async () => {
    const payload = { 'bin/demo.wasm': 'module bytes', 'lib/data.txt': 'data', 'lib/more.txt': 'more data' };
    const e = await w.publish('demo', '1.0.0', payload);
    await w.index({ demo: { '1.0.0': e } });
    await w.service().install({ name: 'demo' });
    const files = join(w.stateDir, 'bundles', 'store', e.manifestSha256, 'files');
    const cacheFile = join(w.stateDir, 'bundles', 'hash-cache.json');
    const kept = async () => {
      const raw = await readFile(cacheFile, 'utf8').catch(() => '{"files":{}}');
      return (JSON.parse(raw) as { files: Record<string, unknown[]> }).files;
    };
    await expect
      .poll(async () => Object.keys(await kept()).length, { message: 'hash-cache.json was not written' })
      .toBe(3);
    const k = await kept();
    for (const [path, text] of Object.entries(payload)) {
      const st = statSync(join(files, path), { bigint: true });
      expect(k[join(files, path)], path).toEqual([
        Number(st.dev),
        Number(st.ino),
        Buffer.byteLength(text),
        String(st.mtimeNs),
        String(st.ctimeNs),
        sha256Hex(text),
      ]);
    }
    // A file changed after the install is not taken for the one verified (its ctime moved): refused on load.
    await chmod(join(files, 'lib', 'data.txt'), 0o644);
    await writeFile(join(files, 'lib', 'data.txt'), 'DATA');
    await expect(w.service().load('demo')).rejects.toMatchObject({ data: { reason: 'file_mismatch' } });
  });

  it('detects a payload file corrupted on disk in the store', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module', 'lib/data.txt': 'data' });
    await w.index({ demo: { '1.0.0': e } });
    const svc = w.service();
    await svc.install({ name: 'demo' });
    await svc.load('demo'); // warms the stat cache
    const p = join(w.stateDir, 'bundles', 'store', e.manifestSha256, 'files', 'lib', 'data.txt');
    await chmod(p, 0o644);
    await writeFile(p, 'DATA'); // same size: only the hash can tell
    await expect(svc.load('demo')).rejects.toMatchObject({
      code: ErrorCodes.BundleVerificationFailed,
      data: { reason: 'file_mismatch', path: 'lib/data.txt' },
    });
  });

  it('detects a corrupted entry module and an edited stored manifest', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } });
    const svc = w.service();
    await svc.install({ name: 'demo' });
    const dir = join(w.stateDir, 'bundles', 'store', e.manifestSha256);
    const mPath = join(dir, 'manifest.json');
    const original = await readFile(mPath, 'utf8');
    const m = JSON.parse(original) as { limits: { memoryMb: number } };
    m.limits.memoryMb = 4096;
    await writeFile(mPath, JSON.stringify(m));
    await expect(svc.load('demo')).rejects.toMatchObject({ data: { reason: 'manifest_tampered' } });
    await writeFile(mPath, original);
    await chmod(join(dir, 'files', 'bin', 'demo.wasm'), 0o644);
    await writeFile(join(dir, 'files', 'bin', 'demo.wasm'), 'MODULE');
    await expect(svc.load('demo')).rejects.toMatchObject({ data: { reason: 'file_mismatch' } });
  });

  it('manifest: the checked manifest without reading the files (an edited manifest still refused; a changed file refused when it runs)', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } });
    const svc = w.service();
    // Not installed yet: installed first, as load does.
    expect(await svc.manifest('demo')).toMatchObject({ name: 'demo', version: '1.0.0' });
    const dir = join(w.stateDir, 'bundles', 'store', e.manifestSha256);
    await chmod(join(dir, 'files', 'bin', 'demo.wasm'), 0o644);
    await writeFile(join(dir, 'files', 'bin', 'demo.wasm'), 'MODULE');
    expect(await svc.manifest('demo')).toMatchObject({ name: 'demo', version: '1.0.0' });
    await expect(svc.load('demo')).rejects.toMatchObject({ data: { reason: 'file_mismatch' } });
    const mPath = join(dir, 'manifest.json');
    const m = JSON.parse(await readFile(mPath, 'utf8')) as { limits: { memoryMb: number } };
    m.limits.memoryMb = 4096;
    await writeFile(mPath, JSON.stringify(m));
    await expect(svc.manifest('demo')).rejects.toMatchObject({ data: { reason: 'manifest_tampered' } });
  });

  it('claimedEntry: what the stored manifest names, unchecked and never installing; locate still refuses an edit', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } });
    const svc = w.service();
    // Nothing installed: no claim, and nothing installed by asking.
    expect(await svc.claimedEntry('demo')).toBeNull();
    expect((await svc.list()).map((s) => [s.name, s.installed])).toEqual([['demo', false]]);
    await svc.install({ name: 'demo' });
    const located = await svc.locate('demo');
    expect(await svc.claimedEntry('demo')).toEqual({ filesDir: located.filesDir, entry: located.entry });
    // An edited manifest is claimed as it reads (the claim is never run on its own) while locate refuses it.
    const mPath = join(w.stateDir, 'bundles', 'store', e.manifestSha256, 'manifest.json');
    const m = JSON.parse(await readFile(mPath, 'utf8')) as { files: { path: string; sha256: string }[] };
    m.files[0].sha256 = 'f'.repeat(64);
    await writeFile(mPath, JSON.stringify(m));
    expect((await svc.claimedEntry('demo'))?.entry.sha256).toBe('f'.repeat(64));
    await expect(svc.locate('demo')).rejects.toMatchObject({ data: { reason: 'manifest_tampered' } });
    // One that does not parse is no claim at all.
    await writeFile(mPath, '{');
    expect(await svc.claimedEntry('demo')).toBeNull();
  });

  it('picks up a rebuilt local bundle (new manifest hash) on the next load, re-verified', async () => {
    const e1 = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'first build' }, { signers: [w.keys.local] });
    await w.index({ demo: { '1.0.0': e1 } }, { signers: [w.keys.local] });
    const svc = w.service();
    expect((await svc.load('demo')).entry.bytes.toString()).toBe('first build');
    const e2 = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'second build' }, { signers: [w.keys.local] });
    await w.index({ demo: { '1.0.0': e2 } }, { signers: [w.keys.local], version: 2_000_000_000 });
    const b = await svc.load('demo');
    expect(b.entry.bytes.toString()).toBe('second build');
    expect(b.manifestSha256).toBe(e2.manifestSha256);
  });

  it('a new local build key (wiped cache, other checkout) leads to a verified reinstall from the local output', async () => {
    const e1 = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'built with key 1' }, { signers: [w.keys.local] });
    await w.index({ demo: { '1.0.0': e1 } }, { signers: [w.keys.local] });
    await w.service().load('demo');
    const key2 = (await import('./crypto.js')).generateKey('local');
    const { private: _p, ...pub2 } = key2;
    await writeFile(w.localPubFile, JSON.stringify(pub2));
    const e2 = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'built with key 1' }, { signers: [key2] });
    await w.index({ demo: { '1.0.0': e2 } }, { signers: [key2], version: 2_000_000_000 });
    const b = await w.service().load('demo');
    expect(b.entry.bytes.toString()).toBe('built with key 1');
    expect((await w.service().list())[0]).toMatchObject({ installed: true, source: 'local' });
  });

  it('load of an unknown bundle is BundleNotFound; install of an unlisted name too', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'module' });
    await w.index({ demo: { '1.0.0': e } });
    await expect(w.service().load('nope')).rejects.toMatchObject({
      code: ErrorCodes.BundleNotFound,
      data: { reason: 'not_in_index' },
    });
  });

  it('trustKey: a developer key is trusted explicitly, audited, and then accepted from any mirror', async () => {
    const dev = (await import('./crypto.js')).generateKey('developer');
    const mirror = join(w.base, 'dev-mirror');
    const e = await w.publish('devtool', '0.1.0', { 'bin/devtool.wasm': 'dev' }, { out: mirror, signers: [dev] });
    await w.index({ devtool: { '0.1.0': e } }, { out: mirror, signers: [dev] });
    const audit: AuditEntryInput[] = [];
    const warnings: string[] = [];
    const svc = w.service({
      audit: { append: async (x) => void audit.push(x) },
      logger: { warn: (m) => void warnings.push(m) },
    });
    await expect(svc.install({ name: 'devtool', mirror })).rejects.toMatchObject({ data: { reason: 'unknown_key' } });
    const { private: _secret, ...pub } = dev;
    const keyFile = join(w.base, 'dev.pub.json');
    await writeFile(keyFile, JSON.stringify(pub));
    expect(await svc.trustKey(keyFile)).toEqual({ keyId: dev.keyid });
    expect(warnings[0]).toMatch(/TRUSTING A DEVELOPER KEY/);
    expect(audit.find((a) => a.type === 'bundle.trust')?.data).toMatchObject({ keyId: dev.keyid, added: true });
    expect(await svc.install({ name: 'devtool', mirror })).toMatchObject({ installed: true });
    expect((await svc.load('devtool')).entry.bytes.toString()).toBe('dev');
  });
});
