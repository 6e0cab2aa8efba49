#!/usr/bin/env node
// Rotates the trust root: writes root v(N+1), signed by the current root keys AND the new root keys.
//   node bundles/scripts/rotate-root.mjs --keys ~/.shadowbox/signing-keys [--rotate root,index,bundles|release] [--revoke KEYID,...] [--expires-days 730]
// New key files are created in --keys; old private keys stay there until you delete them.
// `--rotate release` makes one new release key that holds both the index and the bundles roles.
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BUNDLES, bundlesLib, parseArgs, writeKeyPair } from './lib.mjs';

const args = parseArgs(process.argv.slice(2));
if (!args.keys) {
  console.error(
    'usage: rotate-root.mjs --keys DIR [--rotate root,index,bundles] [--revoke KEYID,...] [--expires-days 730] [--keys-dir bundles/keys]',
  );
  process.exit(2);
}
const lib = await bundlesLib();
const keyDir = resolve(args.keys);
const keysDir = resolve(args['keys-dir'] ?? join(BUNDLES, 'keys'));
const cur = lib.parseRoot(JSON.parse(await readFile(join(keysDir, 'root.json'), 'utf8')));
const all = await lib.loadKeyDir(keyDir);
const oldRootKeys = all.filter((k) => cur.signed.roles.root.keyids.includes(k.keyid));
if (oldRootKeys.length < cur.signed.roles.root.threshold)
  throw new Error(`need ${cur.signed.roles.root.threshold} current root private key(s) in ${keyDir}`);
const v = cur.signed.version + 1;
const signed = structuredClone(cur.signed);
signed.version = v;
signed.expires = new Date(Date.now() + Number(args['expires-days'] ?? 730) * 86_400_000)
  .toISOString()
  .replace(/\.\d+Z$/, 'Z');
let newRootKeys = oldRootKeys;
for (const role of String(args.rotate ?? '')
  .split(',')
  .filter(Boolean)) {
  const k = await writeKeyPair(lib, keyDir, `${role}-${v}`, role);
  signed.keys[k.keyid] = lib.publicOf(k);
  const roles = role === 'release' ? ['index', 'bundles'] : [role];
  if (!roles.every((r) => signed.roles[r])) throw new Error(`unknown role ${role} (root, index, bundles, release)`);
  const old = new Set(roles.flatMap((r) => signed.roles[r].keyids));
  for (const r of roles) signed.roles[r] = { keyids: [k.keyid], threshold: 1 };
  // A replaced key leaves the root's key list once no role names it any more.
  for (const id of old) if (!Object.values(signed.roles).some((r) => r.keyids.includes(id))) delete signed.keys[id];
  if (role === 'root') newRootKeys = [k];
}
for (const id of String(args.revoke ?? '')
  .split(',')
  .filter(Boolean))
  if (!signed.revoked.includes(id)) signed.revoked.push(id);
const env = lib.signRoot(signed, [...oldRootKeys, ...newRootKeys]);
lib.verifyRootRotation(cur, env);
for (const name of ['root.json', `${v}.root.json`])
  await writeFile(join(keysDir, name), `${JSON.stringify(env, null, 2)}\n`);
console.log(
  `root v${v} written to ${keysDir} (signed by ${env.signatures.length} key(s)); publish ${v}.root.json on every mirror under keys/`,
);
