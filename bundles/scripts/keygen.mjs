#!/usr/bin/env node
// Creates an official key set in a folder OUTSIDE the repository and writes the public, self-signed
// root v1 to bundles/keys/root.json (+ 1.root.json).
//   node bundles/scripts/keygen.mjs --out ~/.shadowbox/signing-keys [--release] [--expires-days 730] [--keys-dir bundles/keys]
// Default: a root key plus separate index and bundles keys. --release: a root key plus ONE release key
// (role "release") that the root delegates both the index and the bundles roles to; the root key then
// goes offline and the release key alone signs releases (scripts/release/pack.mjs --keys).
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BUNDLES, bundlesLib, parseArgs, REPO, writeKeyPair } from './lib.mjs';

const args = parseArgs(process.argv.slice(2));
if (!args.out) {
  console.error('usage: keygen.mjs --out DIR [--expires-days 730] [--keys-dir bundles/keys]');
  process.exit(2);
}
const out = resolve(args.out);
if (out.startsWith(REPO + '/')) {
  console.error(`refusing to write private keys inside the repository (${out})`);
  process.exit(2);
}
const keysDir = resolve(args['keys-dir'] ?? join(BUNDLES, 'keys'));
if ((await stat(join(keysDir, 'root.json')).catch(() => null)) && !args.force) {
  console.error(`${keysDir}/root.json exists; rotate with rotate-root.mjs instead (or --force for a new trust root)`);
  process.exit(2);
}
const lib = await bundlesLib();
const root = await writeKeyPair(lib, out, 'root-1', 'root');
const release = args.release ? await writeKeyPair(lib, out, 'release-1', 'release') : null;
const index = release ?? (await writeKeyPair(lib, out, 'index-1', 'index'));
const bundles = release ?? (await writeKeyPair(lib, out, 'bundles-1', 'bundles'));
const days = Number(args['expires-days'] ?? 730);
const signed = {
  type: 'root',
  version: 1,
  expires: new Date(Date.now() + days * 86_400_000).toISOString().replace(/\.\d+Z$/, 'Z'),
  keys: Object.fromEntries([root, index, bundles].map((k) => [k.keyid, lib.publicOf(k)])),
  roles: {
    root: { keyids: [root.keyid], threshold: 1 },
    index: { keyids: [index.keyid], threshold: 1 },
    bundles: { keyids: [bundles.keyid], threshold: 1 },
  },
  revoked: [],
  localBuild: {
    allowed: true,
    note: "a checkout's own build key is accepted for that checkout's bundles/out only, never from a mirror",
  },
};
const env = lib.signRoot(signed, [root]);
await mkdir(keysDir, { recursive: true });
for (const name of ['root.json', '1.root.json'])
  await writeFile(join(keysDir, name), `${JSON.stringify(env, null, 2)}\n`);
console.log(
  `root v1 written to ${keysDir}; private keys in ${out} (root ${root.keyid.slice(0, 12)}, ${release ? `release ${release.keyid.slice(0, 12)}` : `index ${index.keyid.slice(0, 12)}, bundles ${bundles.keyid.slice(0, 12)}`})`,
);
