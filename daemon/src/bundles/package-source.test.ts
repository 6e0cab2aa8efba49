// First use from an installed `@shadowbox/bundle-<name>` package: a package is a mirror-shaped folder
// that npm put on disk; trust comes only from the signatures (the local build key is refused there).
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findBundlePackage } from './context.js';
import type { InstallProgress } from './install.js';
import { createWorld, type World } from './test-fixtures.js';

let w: World;
let pkgDir: string;

beforeEach(async () => {
  w = await createWorld();
  pkgDir = join(w.base, 'node_modules', '@shadowbox', 'bundle-demo');
});
afterEach(async () => {
  await w.cleanup();
});

/** A daemon of a fresh npm install: no local build output, the package found by name. */
function installedCli(extra: Parameters<World['service']>[0] = {}) {
  return w.service({
    localOutputDir: join(w.base, 'no-checkout-out'),
    bundlePackageDir: (name) => (name === 'demo' ? pkgDir : null),
    ...extra,
  });
}

describe('bundle packages', () => {
  it('first use installs from the package, verified, reporting each phase', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'packaged module' }, { out: pkgDir });
    await w.index({ demo: { '1.0.0': e } }, { out: pkgDir });
    const seen: InstallProgress[] = [];
    const svc = installedCli({ onProgress: (p) => seen.push(p) });
    const b = await svc.load('demo');
    expect(b.entry.bytes.toString()).toBe('packaged module');
    expect(seen.map((p) => p.phase)).toEqual(['download', 'verify', 'store', 'done']);
    expect(seen[0]).toMatchObject({ name: 'demo', version: '1.0.0', source: `package:${pkgDir}`, done: 0 });
    expect(seen[3]?.done).toBe(e.archiveSize);
    const installed = JSON.parse(await readFile(join(w.stateDir, 'bundles', 'installed.json'), 'utf8')) as {
      bundles: Record<string, Record<string, { source: string; authority: string }>>;
    };
    expect(installed.bundles.demo?.['1.0.0']).toMatchObject({ source: `package:${pkgDir}`, authority: 'official' });
  });

  it('install without a mirror uses the same first-use sources and passes progress', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'm' }, { out: pkgDir });
    await w.index({ demo: { '1.0.0': e } }, { out: pkgDir });
    const phases: string[] = [];
    const r = await installedCli().install({ name: 'demo' }, (p) => phases.push(p.phase));
    expect(r).toMatchObject({ name: 'demo', installed: true, source: `package:${pkgDir}` });
    expect(phases.at(-1)).toBe('done');
  });

  it("a package signed with a checkout's local build key is refused (unknown_key)", async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'm' }, { out: pkgDir, signers: [w.keys.local] });
    await w.index({ demo: { '1.0.0': e } }, { out: pkgDir, signers: [w.keys.local] });
    await expect(installedCli().load('demo')).rejects.toMatchObject({ code: -33700, reason: 'unknown_key' });
  });

  it('a tampered package is reported as such, not hidden behind a later "not found" mirror', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'original' }, { out: pkgDir });
    await w.index({ demo: { '1.0.0': e } }, { out: pkgDir });
    const tar = join(pkgDir, 'demo', '1.0.0', 'bundle.tar');
    const bytes = await readFile(tar);
    const at = bytes.indexOf('original');
    bytes.write('0riginal', at);
    await writeFile(tar, bytes);
    const emptyMirror = join(w.base, 'empty-mirror');
    await mkdir(emptyMirror, { recursive: true });
    await expect(installedCli({ defaultMirror: emptyMirror }).load('demo')).rejects.toMatchObject({
      code: -33700,
      reason: 'file_mismatch',
    });
  });

  it('findBundlePackage resolves @shadowbox/bundle-<name> the way Node resolves a dependency', async () => {
    const root = join(w.base, 'prefix', 'lib', 'node_modules', 'shadowbox');
    const sibling = join(w.base, 'prefix', 'lib', 'node_modules', '@shadowbox', 'bundle-demo');
    await mkdir(root, { recursive: true });
    await mkdir(sibling, { recursive: true });
    await writeFile(join(sibling, 'package.json'), '{"name":"@shadowbox/bundle-demo","version":"1.0.0"}');
    expect(findBundlePackage('demo', root)).toBe(sibling);
    expect(findBundlePackage('absent', root)).toBeNull();
    expect(findBundlePackage('../evil', root)).toBeNull();
  });
});
