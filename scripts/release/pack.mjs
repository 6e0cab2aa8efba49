#!/usr/bin/env node
// Packs an installable release with `npm pack`: the `shadowbox` package (the built CLI: one esbuild
// bundle for the CLI, daemon, ACP bridge and language server, two bundled worker entries, the web
// client, the public trust root) and one `@shadowbox/bundle-<name>` package per official bundle
// (the bundle's archive, manifest and release-key signatures, a release index signed by the release
// key, the root history). Nothing is built at install time and the packages have no dependencies:
// everything shadowbox runs is inside them. npm is just another mirror: a fresh install trusts the
// bundle packages only through the signatures chained to the root it ships.
//
//   node scripts/release/pack.mjs --keys DIR [--root-dir bundles/keys] [--out dist/release]
//                                 [--bundles jq,sqlite,python] [--expires-days 365] [--version X.Y.Z]
//
// --keys: the release key(s) (role "release", or "index" + "bundles"); never the root key, which stays
// offline. --root-dir: the trust root shipped in the shadowbox package (its root.json must delegate
// to those keys). Needs `npm run build` and the bundles built into bundles/out first.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { PARTS } from '../bundle.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
// npm pack stamps every entry with this time (reproducible tarballs) and npm install keeps it; the
// bundle's identity sidecar must name it, or the compile cache would never find the bundle unchanged.
const NPM_MTIME_MS = Date.parse('1985-10-26T08:15:00.000Z');

/** The official bundles the release carries, by default every bundle the local build index lists. */
async function readLocalIndex() {
  const text = await readFile(path.join(ROOT, 'bundles/out/stable/index.json'), 'utf8').catch(() => null);
  if (!text) throw new Error('bundles/out/stable/index.json is missing: build the bundles first (scripts/setup.sh)');
  return JSON.parse(text).signed;
}

/** The keys that sign bundles and the index: role "release" counts for both. */
async function releaseKeys(lib, dir) {
  const keys = await lib.loadKeyDir(path.resolve(dir));
  const index = keys.filter((k) => k.role === 'index' || k.role === 'release');
  const bundles = keys.filter((k) => k.role === 'bundles' || k.role === 'release');
  if (keys.some((k) => k.role === 'root'))
    throw new Error(`${dir} holds a root key: release signing uses the release key only (keep the root offline)`);
  if (!index.length || !bundles.length) throw new Error(`${dir} must hold a key with role "release"`);
  return { index, bundles };
}

/** Bundles one worker entry (a file Node starts as a Worker) with its imports into a single ES module. */
async function bundleWorker(entry, outfile) {
  await build({
    entryPoints: [path.join(ROOT, entry)],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
}

/**
 * The part bundles (part-<name>.cjs: packages shadowbox.cjs loads on first use), from the build's own list rather than
 * from the folder, which may still hold a part an older build wrote.
 */
const PART_BUNDLES = Object.values(PARTS).map((name) => `part-${name}.cjs`);

/**
 * THIRD_PARTY_LICENSES.txt: the license text of every npm package the bundle inlines (esbuild keeps
 * only `@license` comments), found from the bundle's source map, with the name and version of each.
 */
async function thirdPartyLicenses() {
  const maps = await Promise.all(
    ['shadowbox.cjs', ...PART_BUNDLES].map(async (name) =>
      JSON.parse(await readFile(path.join(ROOT, 'daemon/dist/bundle', `${name}.map`), 'utf8')),
    ),
  );
  const dirs = new Set();
  for (const src of maps.flatMap((m) => m.sources)) {
    const i = src.lastIndexOf('node_modules/');
    if (i < 0) continue;
    const parts = src.slice(i + 'node_modules/'.length).split('/');
    const name = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    dirs.add(path.resolve(path.join(ROOT, 'daemon/dist/bundle'), src.slice(0, i + 'node_modules/'.length) + name));
  }
  const out = [
    'Third-party software inlined into daemon/dist/bundle/shadowbox.cjs, its part-*.cjs (client.cjs holds a subset) and the worker bundles.',
    '',
  ];
  for (const dir of [...dirs].sort()) {
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'));
    const file = (await readdir(dir)).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const text = file
      ? await readFile(path.join(dir, file), 'utf8')
      : `(no license file; package.json: ${pkg.license})`;
    out.push(
      `${'='.repeat(78)}\n${pkg.name}@${pkg.version} — ${pkg.license ?? 'see below'}\n${'='.repeat(78)}\n${text.trim()}\n`,
    );
  }
  return `${out.join('\n')}\n`;
}

/**
 * The bin: a CommonJS file that runs shadowbox.js, and the native launcher (scripts/build-launcher.mjs) for this
 * machine's architecture beside it, which the install step puts in the bin's place when it runs there. An install
 * with --ignore-scripts, on another architecture, or from a build without a C compiler keeps the Node bin: every
 * command works, `shadowbox python` and `status` start Node.
 */
async function stageLauncher(dir) {
  const bin = path.join(dir, 'daemon/bin');
  await writeFile(
    path.join(bin, 'shadowbox'),
    "#!/usr/bin/env node\n// The bin until the install step puts the native launcher here (install-launcher.cjs).\n'use strict';\nrequire('./shadowbox.js');\n",
    { mode: 0o755 },
  );
  await cp(path.join(ROOT, 'daemon/bin/install-launcher.cjs'), path.join(bin, 'install-launcher.cjs'));
  const native = path.join(ROOT, 'daemon/bin/shadowbox');
  if (await stat(native).catch(() => null)) {
    await mkdir(path.join(bin, 'native'), { recursive: true });
    await cp(native, path.join(bin, 'native', `shadowbox-${process.platform}-${process.arch}`));
  } else console.warn('pack: no native launcher (daemon/bin/shadowbox): the release runs every command through Node');
}

/** Stages the `shadowbox` package folder. */
async function stageCli(dir, { version, rootDir, bundleDeps }) {
  const copy = (from, to = from) => cp(path.join(ROOT, from), path.join(dir, to), { recursive: true });
  await copy('daemon/bin/shadowbox.js');
  await copy('daemon/bin/package.json'); // the bin is CommonJS
  await stageLauncher(dir);
  await copy('daemon/dist/bundle/loader.cjs');
  await copy('daemon/dist/bundle/shadowbox.cjs');
  await copy('daemon/dist/bundle/client.cjs');
  await copy('daemon/dist/bundle/acp.cjs'); // `shadowbox acp`'s own bundle (its packages are all in shadowbox.cjs too)
  // The packages shadowbox.cjs loads on first use, each a bundle of its own (scripts/bundle.mjs PARTS).
  for (const name of PART_BUNDLES) await copy(`daemon/dist/bundle/${name}`);
  await copy('clients/web/dist');
  await copy('README.md');
  await copy('CHANGELOG.md');
  // The WASI worker's CommonJS build (scripts/bundle.mjs), where shadowbox.cjs looks for it first.
  await copy('daemon/dist/bundle/wasi-worker.cjs');
  // The spawner process's CommonJS build (scripts/bundle.mjs), which the daemon forks to start rg.
  await copy('daemon/dist/bundle/spawner.cjs');
  await bundleWorker(
    'daemon/src/tools/builtin/grep-worker-thread.ts',
    path.join(dir, 'daemon/dist/tools/builtin/grep-worker-thread.js'),
  );
  await writeFile(path.join(dir, 'THIRD_PARTY_LICENSES.txt'), await thirdPartyLicenses());
  const keys = path.join(dir, 'bundles/keys');
  await mkdir(keys, { recursive: true });
  for (const f of await readdir(rootDir))
    if (f.endsWith('root.json')) await cp(path.join(rootDir, f), path.join(keys, f));
  // Each code-cached bundle's identity, with the mtime npm gives every file it installs.
  for (const name of ['shadowbox.cjs', 'client.cjs', 'acp.cjs', ...PART_BUNDLES]) {
    const bundleFile = path.join(dir, 'daemon/dist/bundle', name);
    const identity = JSON.parse(await readFile(path.join(ROOT, 'daemon/dist/bundle', `${name}.json`), 'utf8'));
    await writeFile(`${bundleFile}.json`, `${JSON.stringify({ ...identity, mtimeMs: NPM_MTIME_MS })}\n`);
    await utimes(bundleFile, NPM_MTIME_MS / 1000, NPM_MTIME_MS / 1000);
  }
  const pkg = {
    name: 'shadowbox',
    version,
    description: 'A daemon that lets an AI coding agent work on your code without touching it behind your back.',
    license: 'Apache-2.0',
    type: 'module',
    engines: { node: '>=20.19' },
    os: ['linux'],
    bin: { shadowbox: 'daemon/bin/shadowbox' },
    // Puts the native launcher in the bin's place when it runs on this machine (daemon/bin/install-launcher.cjs).
    scripts: { postinstall: 'node daemon/bin/install-launcher.cjs' },
    // The official bundles; optional so a registry without them (or a tarball install naming them
    // itself) never fails the install. shadowbox works without them except for python/jq/sqlite.
    optionalDependencies: bundleDeps,
  };
  await writeFile(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
}

/** Stages one `@shadowbox/bundle-<name>` package: a mirror-shaped folder holding only that bundle. */
async function stageBundle(dir, { lib, name, version, entry, keys, indexText, rootDir }) {
  const from = path.join(ROOT, 'bundles/out', name, version);
  const to = path.join(dir, name, version);
  await mkdir(to, { recursive: true });
  await cp(path.join(from, 'bundle.tar'), path.join(to, 'bundle.tar'));
  await cp(path.join(from, 'manifest.json'), path.join(to, 'manifest.json'));
  const manifest = JSON.parse(await readFile(path.join(from, 'manifest.json'), 'utf8'));
  // Only the release key signs what ships (the checkout's local key would be refused anyway).
  const signatures = lib.signValue(manifest, keys.bundles).sort((a, b) => a.keyid.localeCompare(b.keyid));
  const sig = { manifestSha256: entry.manifestSha256, signatures };
  await writeFile(path.join(to, 'manifest.sig.json'), `${JSON.stringify(sig, null, 2)}\n`);
  await mkdir(path.join(dir, 'stable'), { recursive: true });
  await writeFile(path.join(dir, 'stable/index.json'), indexText);
  await mkdir(path.join(dir, 'keys'), { recursive: true });
  for (const f of await readdir(rootDir))
    if (/^\d+\.root\.json$/.test(f)) await cp(path.join(rootDir, f), path.join(dir, 'keys', f));
  const pkg = {
    name: `@shadowbox/bundle-${name}`,
    version,
    description: `${manifest.description} — a signed shadowbox bundle (verified by shadowbox before use).`,
    license: manifest.license,
    files: ['stable/', 'keys/', `${name}/`, 'README.md'],
  };
  await writeFile(path.join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  await writeFile(
    path.join(dir, 'README.md'),
    `# @shadowbox/bundle-${name}\n\nThe official \`${name}@${version}\` WASI bundle for shadowbox, laid out as a bundle mirror\n` +
      '(`stable/index.json`, `' +
      `${name}/${version}/` +
      '`, `keys/`). shadowbox installs it on first use after checking\nthe release signatures against the root it ships; the registry is not trusted.\n',
  );
}

/** `npm pack` of a staged folder into `out`; returns the tarball's path. */
async function npmPack(dir, out) {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', out], { cwd: dir });
  const [info] = JSON.parse(stdout);
  return {
    file: path.join(out, info.filename),
    size: info.size,
    unpacked: info.unpackedSize,
    entries: info.entryCount,
  };
}

/** Packs the release; returns the tarballs (shadowbox first). */
export async function packRelease(o) {
  const out = path.resolve(o.out ?? path.join(ROOT, 'dist/release'));
  const rootDir = path.resolve(o.rootDir ?? path.join(ROOT, 'bundles/keys'));
  const lib = await import(path.join(ROOT, 'daemon/dist/bundles/index.js'));
  const keys = await releaseKeys(lib, o.keys);
  const rootPkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
  const version = o.version ?? rootPkg.version;
  if (!(await stat(path.join(ROOT, 'daemon/dist/bundle/shadowbox.cjs')).catch(() => null)))
    throw new Error('daemon/dist/bundle/shadowbox.cjs is missing: run npm run build first');
  const local = await readLocalIndex();
  const names = o.bundles ?? Object.keys(local.bundles);
  const picked = {};
  for (const name of names) {
    const versions = Object.keys(local.bundles[name] ?? {});
    const v = lib.newest(versions);
    if (!v) throw new Error(`bundles/out has no ${name}: build it first`);
    picked[name] = { version: v, entry: local.bundles[name][v] };
  }
  const stage = await mkdtemp(path.join(os.tmpdir(), 'shadowbox-pack-'));
  try {
    // One release index for every bundle package (same version), signed by the release key.
    const indexDir = path.join(stage, 'index');
    const now = o.now ?? new Date();
    await lib.updateChannelIndex({
      outDir: indexDir,
      channel: 'stable',
      keys: keys.index,
      now,
      expiresInDays: Number(o.expiresDays ?? 365),
      add: Object.fromEntries(Object.entries(picked).map(([n, p]) => [n, { [p.version]: p.entry }])),
    });
    const indexText = await readFile(path.join(indexDir, 'stable/index.json'), 'utf8');
    await mkdir(out, { recursive: true });
    const bundleDeps = Object.fromEntries(
      Object.entries(picked).map(([n, p]) => [`@shadowbox/bundle-${n}`, p.version]),
    );
    const cliDir = path.join(stage, 'shadowbox');
    await stageCli(cliDir, { version, rootDir, bundleDeps });
    const packed = [await npmPack(cliDir, out)];
    for (const [name, p] of Object.entries(picked)) {
      const dir = path.join(stage, `bundle-${name}`);
      await stageBundle(dir, { lib, name, version: p.version, entry: p.entry, keys, indexText, rootDir });
      packed.push(await npmPack(dir, out));
    }
    return packed;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = { _: [] };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++)
    if (argv[i].startsWith('--')) args[argv[i].slice(2)] = argv[i + 1]?.startsWith('--') ? true : argv[++i];
  const keysDir = args.keys ?? process.env.SHADOWBOX_SIGNING_KEY_DIR;
  if (!keysDir) {
    console.error('usage: pack.mjs --keys RELEASE_KEY_DIR [--root-dir DIR] [--out DIR] [--bundles a,b] [--version V]');
    process.exit(2);
  }
  const packed = await packRelease({
    keys: keysDir,
    rootDir: args['root-dir'],
    out: args.out,
    bundles: typeof args.bundles === 'string' ? args.bundles.split(',') : undefined,
    expiresDays: args['expires-days'],
    version: args.version,
  });
  for (const p of packed)
    console.log(`${path.relative(process.cwd(), p.file)}  ${(p.size / 1048576).toFixed(1)} MiB (${p.entries} files)`);
}
