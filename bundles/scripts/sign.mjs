#!/usr/bin/env node
// Adds signatures to published bundles and/or re-signs a channel index (also `shadowbox bundles sign`).
//   node bundles/scripts/sign.mjs --keys DIR OUT/NAME/VERSION...     add bundle signatures (keys with role "bundles")
//   node bundles/scripts/sign.mjs --keys DIR --index [--out DIR] [--channel stable] [--expires-days 30]
//                                                                    re-sign the index: new version, fresh expiry
// Several signers reach a threshold > 1 by each running this with their own key folder.
import { join, resolve } from 'node:path';
import { BUNDLES, bundlesLib, parseArgs } from './lib.mjs';

const args = parseArgs(process.argv.slice(2));
if (!args.keys || (!args.index && !args._.length)) {
  console.error(
    'usage: sign.mjs --keys DIR (VERSION_DIR... | --index [--out DIR] [--channel stable] [--expires-days 30])',
  );
  process.exit(2);
}
const lib = await bundlesLib();
const keys = await lib.loadKeyDir(resolve(args.keys));
for (const dir of args._) {
  const bundleKeys = keys.filter(
    (k) => k.role === 'bundles' || k.role === 'release' || k.role === 'local' || k.role === 'developer',
  );
  if (!bundleKeys.length) throw new Error(`no key with role "bundles" in ${args.keys}`);
  const ids = await lib.addBundleSignatures(resolve(dir), bundleKeys);
  console.log(`${dir}: ${ids.length} signature(s): ${ids.map((k) => k.slice(0, 12)).join(', ')}`);
}
if (args.index) {
  const indexKeys = keys.filter(
    (k) => k.role === 'index' || k.role === 'release' || k.role === 'local' || k.role === 'developer',
  );
  if (!indexKeys.length) throw new Error(`no key with role "index" in ${args.keys}`);
  const outDir = resolve(args.out ?? join(BUNDLES, 'out'));
  const env = await lib.updateChannelIndex({
    outDir,
    channel: args.channel ?? 'stable',
    keys: indexKeys,
    now: new Date(),
    expiresInDays: Number(args['expires-days'] ?? 30),
  });
  console.log(`${outDir}/${env.signed.channel}/index.json: v${env.signed.version}, expires ${env.signed.expires}`);
}
