import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKey, publicOf, type PrivateKeyFile } from './crypto.js';
import { signRoot } from './publish.js';
import { createWorld, type World } from './test-fixtures.js';
import type { RootSigned } from './trust.js';

let w: World;
beforeEach(async () => {
  w = await createWorld();
});
afterEach(async () => {
  await w.cleanup();
});

/** Root v(N+1) from `prev` with a new root key (and optionally new index/bundles keys). */
function nextRoot(
  prev: RootSigned,
  rotate: { root: PrivateKeyFile; index?: PrivateKeyFile; bundles?: PrivateKeyFile },
): RootSigned {
  const s = structuredClone(prev);
  s.version = prev.version + 1;
  for (const [role, key] of Object.entries(rotate) as Array<
    ['root' | 'index' | 'bundles', PrivateKeyFile | undefined]
  >) {
    if (!key) continue;
    s.keys[key.keyid] = publicOf(key);
    s.roles[role] = { keyids: [key.keyid], threshold: 1 };
  }
  return s;
}

async function readJson(p: string): Promise<unknown> {
  return JSON.parse(await readFile(p, 'utf8')) as unknown;
}

describe('root rotation', () => {
  it('moves from v1 to v2 (signed by old and new root keys) and trusts the rotated bundle key', async () => {
    const svc = w.service();
    const e1 = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'v1' });
    await w.index({ demo: { '1.0.0': e1 } }, { version: 10 });
    await svc.install({ name: 'demo', mirror: w.outDir });
    // Rotate root, index and bundle keys; the new index restarts at version 1 (fast-forward recovery).
    const root2 = generateKey('root');
    const index2 = generateKey('index');
    const bundles2 = generateKey('bundles');
    const v2 = nextRoot(w.rootSigned, { root: root2, index: index2, bundles: bundles2 });
    await writeFile(join(w.keysDir, '2.root.json'), JSON.stringify(signRoot(v2, [w.keys.root, root2])));
    const e2 = await w.publish('demo', '2.0.0', { 'bin/demo.wasm': 'v2' }, { signers: [bundles2] });
    await w.index({ demo: { '1.0.0': e1, '2.0.0': e2 } }, { version: 1, signers: [index2] });
    expect((await svc.install({ name: 'demo', mirror: w.outDir })).version).toBe('2.0.0');
    expect(await readJson(join(w.stateDir, 'bundles', 'trusted-root.json'))).toMatchObject({ signed: { version: 2 } });
    // Old keys no longer count for new artifacts.
    await w.index({ demo: { '1.0.0': e1 } }, { version: 2, signers: [w.keys.index] });
    await expect(svc.install({ name: 'demo', mirror: w.outDir })).rejects.toMatchObject({
      data: { reason: 'unknown_key' },
    });
  });

  it('refuses a new root signed only by the new key, or only by the old key', async () => {
    const svc = w.service();
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'v1' });
    await w.index({ demo: { '1.0.0': e } });
    await svc.install({ name: 'demo', mirror: w.outDir }); // trusts v1
    const root2 = generateKey('root');
    const v2 = nextRoot(w.rootSigned, { root: root2 });
    await writeFile(join(w.keysDir, '2.root.json'), JSON.stringify(signRoot(v2, [root2])));
    await expect(svc.install({ name: 'demo', mirror: w.outDir })).rejects.toMatchObject({
      data: { reason: 'unknown_key' },
    });
    await writeFile(join(w.keysDir, '2.root.json'), JSON.stringify(signRoot(v2, [w.keys.root])));
    await expect(svc.install({ name: 'demo', mirror: w.outDir })).rejects.toMatchObject({
      data: { reason: 'unknown_key' },
    });
    expect(await readJson(join(w.stateDir, 'bundles', 'trusted-root.json'))).toMatchObject({ signed: { version: 1 } });
  });

  it("walks v1 → v2 → v3 from a mirror's keys/ folder, one version at a time", async () => {
    const svc = w.service();
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'v1' });
    await w.index({ demo: { '1.0.0': e } });
    await svc.install({ name: 'demo', mirror: w.outDir });
    const r2 = generateKey('root');
    const r3 = generateKey('root');
    const b3 = generateKey('bundles');
    const v2 = nextRoot(w.rootSigned, { root: r2 });
    const v3 = nextRoot(v2, { root: r3, bundles: b3 });
    await mkdir(join(w.outDir, 'keys'), { recursive: true });
    await writeFile(join(w.outDir, 'keys', '2.root.json'), JSON.stringify(signRoot(v2, [w.keys.root, r2])));
    await writeFile(join(w.outDir, 'keys', '3.root.json'), JSON.stringify(signRoot(v3, [r2, r3])));
    const e3 = await w.publish('demo', '3.0.0', { 'bin/demo.wasm': 'v3' }, { signers: [b3] });
    await w.index({ demo: { '1.0.0': e, '3.0.0': e3 } });
    expect((await svc.install({ name: 'demo', version: '3.0.0', mirror: w.outDir })).version).toBe('3.0.0');
    expect(await readJson(join(w.stateDir, 'bundles', 'trusted-root.json'))).toMatchObject({ signed: { version: 3 } });
  });

  it('refuses an expired root', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'v1' });
    await w.index({ demo: { '1.0.0': e } });
    w.now = new Date('2031-01-01T00:00:00Z');
    await expect(w.service().install({ name: 'demo', mirror: w.outDir })).rejects.toMatchObject({
      data: { reason: 'expired' },
    });
  });
});
