import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createWorld, type World } from './test-fixtures.js';

let w: World;
let server: Server;
let base: string;

beforeEach(async () => {
  w = await createWorld();
  // "Daemon A": serves its mirror folder under /bundles/ on a real HTTP server, like the daemon does.
  const handler = w.service().serveMirror(w.outDir);
  server = createServer((req, res) => {
    if (!handler(req, res)) {
      res.writeHead(404);
      res.end('not a mirror path');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bundles/`;
});
afterEach(async () => {
  await new Promise((r) => server.close(r));
  await w.cleanup();
});

/** "Daemon B": a brand-new state dir and an empty local output folder. */
function otherDaemon() {
  return w.service({ stateDir: join(w.base, 'state-b'), localOutputDir: join(w.base, 'empty-out') });
}

describe('mirror over HTTP', () => {
  it("a second daemon installs an official bundle from the first one's /bundles/ and loads it", async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'served module' });
    await w.index({ demo: { '1.0.0': e } });
    const b = otherDaemon();
    expect(await b.install({ name: 'demo', mirror: base })).toMatchObject({
      name: 'demo',
      version: '1.0.0',
      installed: true,
      source: base,
    });
    expect((await b.load('demo')).entry.bytes.toString()).toBe('served module');
  });

  it('installs the newest version unless one is named', async () => {
    const v1 = await w.publish('demo', '1.2.0', { 'bin/demo.wasm': 'v1.2' });
    const v2 = await w.publish('demo', '1.10.0', { 'bin/demo.wasm': 'v1.10' });
    await w.index({ demo: { '1.2.0': v1, '1.10.0': v2 } });
    const b = otherDaemon();
    expect((await b.install({ name: 'demo', mirror: base })).version).toBe('1.10.0');
    expect((await b.install({ name: 'demo', version: '1.2.0', mirror: base })).version).toBe('1.2.0');
    expect((await b.load('demo')).version).toBe('1.10.0');
    expect((await b.load('demo', '1.2.0')).entry.bytes.toString()).toBe('v1.2');
  });

  it('a local-build-signed bundle is refused when it comes from a mirror', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'm' }, { signers: [w.keys.local] });
    await w.index({ demo: { '1.0.0': e } }, { signers: [w.keys.local] });
    await expect(otherDaemon().install({ name: 'demo', mirror: base })).rejects.toMatchObject({
      data: { reason: 'unknown_key' },
    });
  });

  it('serves only files inside the folder, GET/HEAD only', async () => {
    const e = await w.publish('demo', '1.0.0', { 'bin/demo.wasm': 'm' });
    await w.index({ demo: { '1.0.0': e } });
    const get = (p: string, method = 'GET') => fetch(`${base.replace(/\/bundles\/$/, '')}${p}`, { method });
    expect((await get('/bundles/stable/index.json')).status).toBe(200);
    expect((await get('/bundles/demo/1.0.0/bundle.tar', 'HEAD')).headers.get('content-length')).toBe(
      String(e.archiveSize),
    );
    for (const p of [
      '/bundles/../state/bundles/installed.json',
      '/bundles/%2e%2e/keys/root.json',
      '/bundles/demo/..%2f..%2fkeys/root.json',
      '/bundles/demo/',
      '/bundles/',
    ]) {
      expect((await get(p)).status, p).toBe(404);
    }
    expect((await get('/bundles/stable/index.json', 'POST')).status).toBe(405);
    expect(await (await get('/elsewhere')).text()).toBe('not a mirror path');
    await expect(otherDaemon().install({ name: '../keys', mirror: base })).rejects.toMatchObject({
      data: { reason: 'bundle_name_invalid' },
    });
    await expect(otherDaemon().install({ name: 'demo', version: '1.0.0/../../x', mirror: base })).rejects.toMatchObject(
      { data: { reason: 'bundle_version_invalid' } },
    );
  });
});
