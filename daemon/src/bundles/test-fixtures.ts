// Test helpers (no vitest imports): a temporary trust root, key set, mirror-shaped output folder and
// state dir, with real signed bundles whose bytes the tests then tamper with.
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, publicOf, sha256Hex, type PrivateKeyFile } from './crypto.js';
import type { IndexEntry } from './channel-index.js';
import { publishBundle, signRoot, updateChannelIndex } from './publish.js';
import { createBundleService, type BundleServiceOptions } from './service.js';
import type { RootSigned } from './trust.js';

/** A throwaway world: keys, a root, an output folder and a state dir. */
export interface World {
  base: string;
  keysDir: string;
  outDir: string;
  stateDir: string;
  localPubFile: string;
  keys: { root: PrivateKeyFile; index: PrivateKeyFile; bundles: PrivateKeyFile; local: PrivateKeyFile };
  now: Date;
  rootSigned: RootSigned;
  service(extra?: Partial<BundleServiceOptions>): ReturnType<typeof createBundleService>;
  /** Publishes name@version with payload files into `out` (or another mirror folder), signed by `signers`. */
  publish(
    name: string,
    version: string,
    payload: Record<string, string>,
    o?: { out?: string; signers?: PrivateKeyFile[]; manifest?: (m: Record<string, unknown>) => void },
  ): Promise<IndexEntry>;
  /** Writes a signed index listing `bundles` into `<out>/stable/index.json`. */
  index(
    bundles: Record<string, Record<string, IndexEntry>>,
    o?: { out?: string; signers?: PrivateKeyFile[]; version?: number; expiresInDays?: number },
  ): Promise<void>;
  cleanup(): Promise<void>;
}

/** Manifest value for a small test bundle (a fake module is fine: verification never runs it). */
export function testManifest(name: string, version: string, payload: Record<string, string>): Record<string, unknown> {
  const paths = Object.keys(payload).sort();
  return {
    schema: 'shadowbox.bundle/v1',
    name,
    version,
    description: `${name} test bundle`,
    entries: [{ name, path: paths[0] }],
    files: paths.map((p) => ({ path: p, size: Buffer.byteLength(payload[p]), sha256: sha256Hex(payload[p]) })),
    capabilities: { fs: [{ guest: '/workspace', source: 'workspace', access: 'ro' }], netFetch: null },
    limits: { memoryMb: 64, timeoutMs: 1000, maxOutputBytes: 65536 },
    tools: [
      {
        name: name.replace(/-/g, '_'),
        description: 'test',
        entry: name,
        kind: 'read',
        inputSchema: { type: 'object' },
        argv: [{ arg: 'x', optional: true }],
      },
    ],
    provenance: { sourceDateEpoch: 1700000000, recipeSha256: '0'.repeat(64), sources: [], toolchain: {}, flags: [] },
  };
}

/** Creates the world with root v1 (threshold 1 per role, local builds allowed). */
export async function createWorld(): Promise<World> {
  const base = await mkdtemp(join(tmpdir(), 'sb-bundles-'));
  const keysDir = join(base, 'keys');
  const outDir = join(base, 'out');
  const stateDir = join(base, 'state');
  await mkdir(keysDir, { recursive: true });
  const keys = {
    root: generateKey('root'),
    index: generateKey('index'),
    bundles: generateKey('bundles'),
    local: generateKey('local'),
  };
  const now = new Date('2026-06-01T00:00:00Z');
  const rootSigned: RootSigned = {
    type: 'root',
    version: 1,
    expires: '2030-01-01T00:00:00Z',
    keys: Object.fromEntries([keys.root, keys.index, keys.bundles].map((k) => [k.keyid, publicOf(k)])),
    roles: {
      root: { keyids: [keys.root.keyid], threshold: 1 },
      index: { keyids: [keys.index.keyid], threshold: 1 },
      bundles: { keyids: [keys.bundles.keyid], threshold: 1 },
    },
    revoked: [],
    localBuild: { allowed: true },
  };
  await writeFile(join(keysDir, 'root.json'), JSON.stringify(signRoot(rootSigned, [keys.root])));
  const localPubFile = join(base, 'local-build.pub.json');
  const { private: _p, ...localPub } = keys.local;
  await writeFile(localPubFile, JSON.stringify(localPub));
  const world: World = {
    base,
    keysDir,
    outDir,
    stateDir,
    localPubFile,
    keys,
    now,
    rootSigned,
    service: (extra = {}) =>
      createBundleService({
        stateDir,
        trustedRootDir: keysDir,
        localOutputDir: outDir,
        localKeyFile: localPubFile,
        clock: () => world.now,
        ...extra,
      }),
    async publish(name, version, payload, o = {}) {
      const m = testManifest(name, version, payload);
      o.manifest?.(m);
      const files = new Map(Object.entries(payload).map(([k, v]) => [k, Buffer.from(v)]));
      return (await publishBundle(o.out ?? outDir, m, files, o.signers ?? [keys.bundles])).entry;
    },
    async index(bundles, o = {}) {
      const out = o.out ?? outDir;
      await rm(join(out, 'stable', 'index.json'), { force: true });
      await updateChannelIndex({
        outDir: out,
        channel: 'stable',
        keys: o.signers ?? [keys.index],
        now: world.now,
        expiresInDays: o.expiresInDays ?? 30,
        add: bundles,
        minVersion: o.version,
      });
      if (o.version !== undefined) {
        // updateChannelIndex never goes below "now in seconds"; tests want exact small versions.
        const p = join(out, 'stable', 'index.json');
        const env = JSON.parse(await readFile(p, 'utf8')) as { signed: { version: number } };
        env.signed.version = o.version;
        const { signValue } = await import('./publish.js');
        await writeFile(
          p,
          JSON.stringify({ signed: env.signed, signatures: signValue(env.signed, o.signers ?? [keys.index]) }),
        );
      }
    },
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
  return world;
}
