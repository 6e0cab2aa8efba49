#!/usr/bin/env node
// Builds an official bundle from its recipe (bundles/official/NAME/), reproducibly, and publishes it
// signed into the mirror-shaped output folder (bundles/out/ by default).
//   node bundles/scripts/build.mjs NAME [--out DIR] [--channel stable] [--force]
// Cached by recipe hash (recipe files + shared shims + this driver + toolchain versions + pinned
// sources) in bundles/.cache/builds/NAME/<hash>/, so unchanged bundles are not rebuilt.
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { fetchSource, unpackSource } from './debian-source.mjs';
import { BUNDLES, bundlesLib, CACHE, parseArgs, run, signingKeys } from './lib.mjs';

const TOOLCHAIN_PACKAGES = ['clang-19', 'lld-19', 'wasi-libc', 'libclang-rt-19-dev-wasm32'];

async function listFiles(dir, base = dir) {
  const out = [];
  for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, base)));
    else if (e.isFile()) out.push(relative(base, p));
  }
  return out;
}

async function hashTree(h, dir, label) {
  for (const f of await listFiles(dir))
    h.update(`${label}/${f}\0`)
      .update(await readFile(join(dir, f)))
      .update('\0');
}

/** Versions of the toolchain packages (dpkg) and clang's own banner. */
export async function toolchainVersions() {
  const out = {};
  const q = await run('dpkg-query', ['-W', '-f', '${Package}=${Version}\n', ...TOOLCHAIN_PACKAGES]);
  for (const line of q.trim().split('\n')) {
    const [k, v] = line.split('=');
    out[k] = v;
  }
  return out;
}

/** A clean copy of Debian's wasi-libc as a sysroot, so host headers from /usr/include never leak in. */
async function sysroot(toolchain) {
  const dir = join(CACHE, 'sysroot', `wasi-libc-${toolchain['wasi-libc']}`);
  if (!(await stat(join(dir, '.complete')).catch(() => null))) {
    await rm(dir, { recursive: true, force: true });
    await cp('/usr/include/wasm32-wasi', join(dir, 'include'), { recursive: true });
    await cp('/usr/lib/wasm32-wasi', join(dir, 'lib', 'wasm32-wasi'), { recursive: true });
    await writeFile(join(dir, '.complete'), '');
  }
  return dir;
}

async function parallel(tasks, n = 2) {
  let i = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (i < tasks.length) await tasks[i++]();
    }),
  );
}

/** Builds (or reuses the cached build of) one recipe; returns { manifest, files, cached, buildMs, recipeHash }. */
export async function buildRecipe(name, opts = {}) {
  const progress = opts.progress ?? (() => {});
  const recipeDir = join(BUNDLES, 'official', name);
  const recipe = await import(pathToFileURL(join(recipeDir, 'recipe.mjs')).href);
  const template = JSON.parse(await readFile(join(recipeDir, 'manifest.template.json'), 'utf8'));
  const toolchain = await toolchainVersions();
  const h = createHash('sha256');
  await hashTree(h, recipeDir, 'recipe');
  await hashTree(h, join(BUNDLES, 'shim'), 'shim');
  for (const f of ['build.mjs', 'debian-source.mjs', 'lib.mjs'])
    h.update(f).update(await readFile(join(BUNDLES, 'scripts', f)));
  h.update(JSON.stringify({ toolchain, sources: recipe.sources }));
  const recipeHash = h.digest('hex');
  const cacheDir = join(CACHE, 'builds', name, recipeHash);
  if (!opts.force && (await stat(join(cacheDir, 'manifest.json')).catch(() => null))) {
    progress(`recipe ${recipeHash.slice(0, 12)} unchanged: using the cached build`);
    const manifest = JSON.parse(await readFile(join(cacheDir, 'manifest.json'), 'utf8'));
    const files = new Map();
    for (const f of manifest.files) files.set(f.path, await readFile(join(cacheDir, 'files', f.path)));
    return { manifest, files, cached: true, buildMs: 0, recipeHash };
  }
  const t0 = performance.now();
  // A fixed build path per bundle; -ffile-prefix-map hides it from the output anyway.
  const work = opts.workDir ?? join(CACHE, 'work', name);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const sources = [];
  let sourceDateEpoch = 0;
  const srcDirs = {};
  const sourceFiles = {};
  progress(`recipe ${recipeHash.slice(0, 12)}: building${opts.force ? ' (--force)' : ''}`);
  for (const s of recipe.sources) {
    progress(`fetching the Debian source ${s.package} ${s.version}`);
    const got = await fetchSource(s.package, s.version);
    sources.push({ name: s.package, version: got.version, files: got.files });
    sourceFiles[s.package] = got;
    // A recipe that unpacks its sources itself sets `export const unpack = false` (and its own sourceDateEpoch).
    if (recipe.unpack === false) continue;
    const dest = join(work, s.package);
    const ts = await unpackSource(got, dest);
    sourceDateEpoch = Math.max(sourceDateEpoch, ts);
    srcDirs[s.package] = dest;
  }
  if (recipe.unpack === false) {
    if (!Number.isInteger(recipe.sourceDateEpoch))
      throw new Error(`${name}: a recipe with unpack = false must export sourceDateEpoch`);
    sourceDateEpoch = recipe.sourceDateEpoch;
  }
  const root = await sysroot(toolchain);
  const env = { ...process.env, SOURCE_DATE_EPOCH: String(sourceDateEpoch), LC_ALL: 'C', TZ: 'UTC' };
  const base = [
    '--target=wasm32-wasi',
    `--sysroot=${root}`,
    '-O2',
    `-ffile-prefix-map=${work}=/build`,
    `-I${join(BUNDLES, 'shim', 'wasi')}`,
  ];
  const ctx = {
    name,
    work,
    srcDirs,
    sourceFiles,
    recipeDir,
    sysroot: root,
    sourceDateEpoch,
    env,
    baseFlags: base,
    run: (cmd, args, o = {}) => {
      progress(`$ ${[cmd, ...args].join(' ').slice(0, 140)}`);
      return run(cmd, args, { env, ...o });
    },
    cc: (args, o = {}) => {
      const src = args.filter((a) => /\.(c|cc|cpp|S)$/.test(a)).map((a) => basename(a));
      const out = args[args.indexOf('-o') + 1];
      progress(src.length ? `cc ${src.join(' ').slice(0, 120)}` : `link ${out ? basename(out) : ''}`);
      return run('clang-19', [...base, ...args], { env, ...o });
    },
    parallel,
  };
  progress('compiling (clang-19 → wasm32-wasi)');
  const result = await recipe.build(ctx);
  progress(`compiled in ${((performance.now() - t0) / 1000).toFixed(1)} s; storing the build in the cache`);
  const files = new Map();
  const manifestFiles = [];
  for (const [path, hostPath] of Object.entries(result.files).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const bytes = await readFile(hostPath);
    files.set(path, bytes);
    manifestFiles.push({ path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  const manifest = {
    schema: 'shadowbox.bundle/v1',
    ...template,
    files: manifestFiles,
    provenance: {
      sourceDateEpoch,
      recipeSha256: recipeHash,
      sources,
      toolchain,
      flags: [...base.filter((f) => !f.includes('/')), ...(result.flags ?? [])],
    },
  };
  const tmp = `${cacheDir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  for (const [path, bytes] of files) {
    await mkdir(join(tmp, 'files', path, '..'), { recursive: true });
    await writeFile(join(tmp, 'files', path), bytes);
  }
  await writeFile(join(tmp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await rm(cacheDir, { recursive: true, force: true });
  await rename(tmp, cacheDir);
  if (!opts.keepWork) await rm(work, { recursive: true, force: true });
  return { manifest, files, cached: false, buildMs: Math.round(performance.now() - t0), recipeHash };
}

/** Builds, signs and publishes NAME into the output folder and updates the channel index. */
export async function buildAndPublish(name, opts = {}) {
  const lib = await bundlesLib();
  const outDir = resolve(opts.out ?? join(BUNDLES, 'out'));
  const channel = opts.channel ?? 'stable';
  const b = await buildRecipe(name, opts);
  const keys = await signingKeys(lib);
  opts.progress?.(`signing and publishing into ${outDir} (files that hold the same bytes are left as they are)`);
  const pub = await lib.publishBundle(outDir, b.manifest, b.files, keys.bundles);
  // Re-sign the index only when the entry changed, the signer changed, or it expires within a week.
  const now = new Date();
  const prev = await lib.readOwnIndex(outDir, channel);
  const same =
    prev &&
    JSON.stringify(prev.signed.bundles[b.manifest.name]?.[b.manifest.version]) === JSON.stringify(pub.entry) &&
    prev.signatures
      .map((s) => s.keyid)
      .sort()
      .join() ===
      keys.index
        .map((k) => k.keyid)
        .sort()
        .join() &&
    Date.parse(prev.signed.expires) - now.getTime() > 7 * 86_400_000;
  const index = same
    ? prev
    : await lib.updateChannelIndex({
        outDir,
        channel,
        keys: keys.index,
        now,
        expiresInDays: keys.expiresInDays,
        add: { [b.manifest.name]: { [b.manifest.version]: pub.entry } },
      });
  const report = {
    name: b.manifest.name,
    version: b.manifest.version,
    cached: b.cached,
    buildMs: b.buildMs,
    recipeHash: b.recipeHash,
    manifestSha256: pub.entry.manifestSha256,
    archiveBytes: pub.entry.archiveSize,
    files: b.manifest.files.map((f) => ({ path: f.path, bytes: f.size })),
    signedBy: keys.kind,
    keyIds: pub.keyIds,
    indexVersion: index.signed.version,
    out: pub.dir,
  };
  // Mirrors serve the root history under keys/ so clients can rotate (N → N+1) from them.
  await mkdir(join(outDir, 'keys'), { recursive: true });
  for (const f of (await readdir(join(BUNDLES, 'keys'))).filter((n) => /^(root|\d+\.root)\.json$/.test(n)))
    await lib.writeIfChanged(join(outDir, 'keys', f), await readFile(join(BUNDLES, 'keys', f)));
  await mkdir(join(CACHE, 'reports'), { recursive: true });
  if (!b.cached) await writeFile(join(CACHE, 'reports', `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = parseArgs(process.argv.slice(2));
  if (!args._.length) {
    console.error('usage: build.mjs NAME... [--out DIR] [--channel stable] [--force]');
    process.exit(2);
  }
  for (const name of args._) {
    // Progress on stderr as it happens, with the time since the start; a long silent step (make) gets a
    // heartbeat line every 15 s so a build never looks stuck.
    const t0 = performance.now();
    const since = () => `${((performance.now() - t0) / 1000).toFixed(1).padStart(6)} s`;
    let last = 'starting';
    const progress = (msg) => {
      last = msg;
      console.error(`${name} ${since()}  ${msg}`);
    };
    const beat = setInterval(() => console.error(`${name} ${since()}  … still working (${last.slice(0, 60)})`), 15_000);
    let r;
    try {
      r = await buildAndPublish(name, {
        out: args.out,
        channel: args.channel,
        force: Boolean(args.force),
        progress,
      });
    } finally {
      clearInterval(beat);
    }
    const sizes = r.files.map((f) => `${f.path} ${(f.bytes / 1024).toFixed(0)} KiB`).join(', ');
    console.log(
      `${r.name}@${r.version}: ${r.cached ? 'cached (recipe unchanged)' : `built in ${(r.buildMs / 1000).toFixed(1)} s`}; ${sizes}; archive ${(r.archiveBytes / 1024).toFixed(0)} KiB; signed (${r.signedBy}) ${r.keyIds.map((k) => k.slice(0, 12)).join(',')}; index v${r.indexVersion}; ${r.out}`,
    );
  }
}
