// Bundles the shadowbox CLI (which is also the daemon, the ACP bridge and the language server) from
// the TypeScript sources into CommonJS files with esbuild: daemon/dist/bundle/shadowbox.cjs (all of it),
// client.cjs (the client commands), acp.cjs (the ACP bridge) and loader.cjs (the code-cache loader the bin
// requires).
// Why CommonJS: Node 20 caches compiled code only for scripts (vm.Script cachedData), not for ES
// modules, and daemon/bin/shadowbox.js loads a bundle through that cache (cli/compile-cache.ts).
// Subcommands stay lazy: esbuild turns each `await import(...)` into a module initialised on first use.
//
// `node scripts/bundle.mjs` always builds; `--if-stale` builds only when a source file is newer
// than the bundle (vitest's globalSetup uses that, so end-to-end tests never run a stale bundle).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = path.join(root, 'daemon/dist/bundle');
const outfile = path.join(outdir, 'shadowbox.cjs');
// The client commands' own bundle (daemon/src/cli/client-main.ts: status, review, run, python, …): a
// fraction of the CLI, so those commands read and compile less. The bin picks it for them.
const clientOutfile = path.join(outdir, 'client.cjs');
// The ACP bridge's own bundle (daemon/src/cli/acp-main.ts): `shadowbox acp` stays running beside an editor,
// so it holds only the bridge (the ACP SDK, the client library, the protocol), not the daemon.
const acpOutfile = path.join(outdir, 'acp.cjs');
// The bin's loader (cli/compile-cache.ts) as CommonJS: the bin is CommonJS and loads no ES module first.
const loaderOutfile = path.join(outdir, 'loader.cjs');
// The WASI sandbox worker (daemon/src/wasi/worker/entry.ts) as one CommonJS file, which the daemon's bundle starts
// its workers from (SHADOWBOX_WASI_WORKER_BUNDLE below): one file to load instead of the ~20 compiled modules
// of dist/wasi/, ~10–15 ms of every worker's start (python's first call waits for one). CommonJS, not an ES module:
// a worker then never starts Node's ES module loader, ~5 ms of each worker's start (spawn → a compile's answer
// 37.5 vs 42.4 and 46.8 vs 51.3 ms, medians of 21). The release packs this file (scripts/release/pack.mjs).
const wasiWorkerOutfile = path.join(outdir, 'wasi-worker.cjs');
// The spawner process (daemon/src/spawner/child.ts), which starts rg and other programs for the daemon so that a fork
// copies its ~40 MiB rather than the daemon's 110–250 (SHADOWBOX_SPAWNER_BUNDLE below). CommonJS and one file, for
// the same reasons as the WASI worker; the release packs it too.
const spawnerOutfile = path.join(outdir, 'spawner.cjs');
/**
 * Packages the daemon's bundle loads from bundles of their own, on first use (see `parts` below): part-<name>.cjs
 * beside it, through the code cache too.
 */
export const PARTS = {
  '@anthropic-ai/sdk': 'anthropic',
  openai: 'openai',
  '@modelcontextprotocol/sdk': 'mcp',
  'node-html-markdown': 'html',
  execa: 'execa',
  'highlight.js': 'highlight',
  marked: 'marked',
};
const partFile = (name) => path.join(outdir, `part-${name}.cjs`);
/** The bundles the bin (or the daemon's bundle, for a part) loads through the code cache (each gets an identity sidecar). */
const cached = [outfile, clientOutfile, acpOutfile, ...Object.values(PARTS).map(partFile)];
/**
 * Each of those is written already wrapped in the function a CommonJS module runs in, so the loader compiles the file's
 * text as it is (cli/compile-cache.ts, BUNDLE_HEAD: the same text; client-commands.test.ts checks every bundle starts
 * with it). Wrapped by the loader, V8 first joins the three strings into a second copy of the bundle (2.3 MB in its
 * heap for shadowbox.cjs) at every start. Small: the daemon's bundle loads in 51.1 vs 52.8 ms (0.97×, 31 alternating
 * fresh processes, a probe), and the bench's ready line did not move beyond the noise (docs/benchmarks.md, run 38). esbuild's banner
 * and footer keep the source map right.
 */
const WRAPPED = {
  banner: { js: '(function (exports, require, module, __filename, __dirname) {' },
  footer: { js: '})' },
};
const sources = ['daemon/src', 'protocol/src', 'clients/editor/src', 'clients/terminal/src', 'clients/web/node'];

/** The newest modification time among the bundled sources (and this script). */
function newestSource() {
  let newest = statSync(fileURLToPath(import.meta.url)).mtimeMs;
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') || e.name.endsWith('.md')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const s of sources) walk(path.join(root, s));
  return newest;
}

/**
 * Code that finds files relative to itself (`import.meta.url`: the bin, the web client's dist, the
 * official bundles, worker entries) sees the URL its compiled file has in the dist/ tree, so the
 * bundle finds exactly what the compiled tree finds.
 */
const importMetaUrl = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, (args) => {
      let text = readFileSync(args.path, 'utf8');
      refuseOtherZodLocales(args.path, text);
      if (text.includes('import.meta.url')) {
        const compiled = args.path
          .replace(/([\\/](?:daemon|protocol|clients[\\/][^\\/]+))[\\/]src[\\/]/, '$1/dist/')
          .replace(/([\\/]clients[\\/]web)[\\/]node[\\/]/, '$1/dist-node/')
          .replace(/\.ts$/, '.js');
        const rel = path.relative(outdir, compiled).split(path.sep).join('/');
        text = text.replaceAll(
          'import.meta.url',
          `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(rel)})).href`,
        );
      }
      return { contents: text, loader: 'ts' };
    });
  },
};

/**
 * vscode-jsonrpc's Node entry (lib/node/main.js and ril.js) requires node:crypto when it loads, for two functions
 * (a random pipe name, randomUUID) no client command calls on its way: loading node:crypto is ~3.5 ms of every
 * command. In the bundles crypto is required on the first call instead. The text replaced is checked: a
 * vscode-jsonrpc that no longer has it fails the build instead of silently loading crypto again.
 */
const EAGER_CRYPTO = 'const crypto_1 = require("crypto");';
const LAZY_CRYPTO =
  'const crypto_1 = { randomBytes: (n) => require("crypto").randomBytes(n), randomUUID: () => require("crypto").randomUUID() };';
const lazyCrypto = {
  name: 'lazy-crypto',
  setup(b) {
    b.onLoad({ filter: /[\\/]vscode-jsonrpc[\\/]lib[\\/]node[\\/](main|ril)\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(EAGER_CRYPTO))
        throw new Error(`${args.path} no longer has ${EAGER_CRYPTO}: update lazyCrypto`);
      const lazy = text.replace(EAGER_CRYPTO, LAZY_CRYPTO);
      if (/crypto_1\.(?!randomBytes\b|randomUUID\b)/.test(lazy))
        throw new Error(`${args.path} uses more of node:crypto than lazyCrypto provides`);
      return { contents: lazy, loader: 'js' };
    });
  },
};

/**
 * zod's entry points re-export every locale it ships (`export * as locales from "../locales/index.js"` in
 * v4/core/index.js, v4/classic/external.js and v4/mini/external.js): 63 locales, ~296 KiB of each bundle (a third
 * of the client commands' and of the ACP bridge's), read, deserialized and kept in memory by every command. Nothing
 * here picks a locale: zod's default is English, registered by classic/schemas.js from locales/en.js directly. In
 * the bundles locales/index.js exports `en` only (its file, its place in the source map, its contents replaced). The
 * build fails if no bundle loads that file any more, or if a source names another locale (`z.locales.xx`), rather
 * than silently shipping a stub a call would miss. client-commands.test.ts checks each bundle's sources and that
 * zod's messages stay English.
 */
/** Fails the build on a source that names a zod locale other than en (checked where importMetaUrl reads each source). */
function refuseOtherZodLocales(file, text) {
  if (/\blocales\.(?!en\b)[a-zA-Z]/.test(text))
    throw new Error(`${file} names a zod locale other than en: update englishOnlyZod in scripts/bundle.mjs`);
}

/** `required`: the build fails when it loads no zod locales (a part need not hold zod at all). */
export const englishOnlyZod = (required = true) => ({
  name: 'english-only-zod',
  setup(b) {
    let replaced = false;
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, () => {
      replaced = true;
      return { contents: "export { default as en } from './en.js';", loader: 'js' };
    });
    // Returned, not pushed onto result.errors: esbuild fails the build only on errors an onEnd callback returns.
    b.onEnd((result) =>
      required && result.errors.length === 0 && !replaced
        ? { errors: [{ text: 'no bundle loads zod/v4/locales/index.js any more: update englishOnlyZod' }] }
        : undefined,
    );
  },
});

/** The plugins of a build that need not hold zod (a part, the loader): a new englishOnlyZod each, which keeps state. */
const pluginsWithoutZod = () => [englishOnlyZod(false), importMetaUrl, lazyCrypto];

/** The package a bare specifier names (`@scope/name` or `name`), and the path inside it (`.` for its entry). */
function packageOf(spec) {
  const bits = spec.split('/');
  const n = spec.startsWith('@') ? 2 : 1;
  return { pkg: bits.slice(0, n).join('/'), sub: bits.length > n ? bits.slice(n).join('/') : '.' };
}

/**
 * Why: the daemon's bundle held every package the CLI uses, 3.9 MB that each daemon start reads, makes a string of
 * and deserialises the code cache of, though the model SDKs, the MCP SDK, the fetch tool's HTML converter, execa
 * and the terminal's highlighter and markdown parser all load on first use only (a prompt, an MCP server, a fetch, a
 * checkpoint, a chat). In shadowbox.cjs each of these packages (PARTS) is a stub that loads part-<name>.cjs through
 * the loader and its code cache (compile-cache.ts `loadPart`) when it is first required; a part holds one package
 * and what it imports, and every subpath the bundle imports of it (one copy: its classes are the same whichever
 * subpath names them). Only third-party packages that import none of ours: a module of ours in a part would be a
 * second copy of it (its classes, its state). `seen` collects the subpaths, for the parts' build.
 */
function parts(seen) {
  return {
    name: 'parts',
    setup(b) {
      const names = Object.keys(PARTS).map((k) => k.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'));
      const filter = new RegExp(`^(${names.join('|')})(/|$)`);
      b.onResolve({ filter }, (args) => {
        const { pkg, sub } = packageOf(args.path);
        if (!(pkg in PARTS)) return undefined;
        (seen[pkg] ??= new Set()).add(sub);
        return { path: args.path, namespace: 'part' };
      });
      b.onResolve({ filter: /^\.\/loader\.cjs$/, namespace: 'part' }, (args) => ({ path: args.path, external: true }));
      b.onLoad({ filter: /.*/, namespace: 'part' }, (args) => {
        const { pkg, sub } = packageOf(args.path);
        const file = `part-${PARTS[pkg]}.cjs`;
        // __dirname: the bundle's folder (the loader's wrapper passes it), where loader.cjs and the parts are.
        return {
          contents: `module.exports = require('./loader.cjs').loadPart(__dirname + ${JSON.stringify(`/${file}`)})[${JSON.stringify(sub)}];`,
          loader: 'js',
        };
      });
    },
  };
}

/** Builds the bundle and writes its identity (content hash, size, mtime) beside it for the compile cache. */
export async function bundle() {
  const started = performance.now();
  const seen = {};
  const options = {
    outdir,
    outExtension: { '.js': '.cjs' },
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    // The source tree, not the packages' dist/: a bundle is never older than the sources it claims to be.
    alias: {
      '@shadowbox/protocol': path.join(root, 'protocol/src/index.ts'),
      '@shadowbox/client/acp': path.join(root, 'clients/editor/src/acp/index.ts'),
      '@shadowbox/client/lsp': path.join(root, 'clients/editor/src/lsp/index.ts'),
      '@shadowbox/client': path.join(root, 'clients/editor/src/index.ts'),
      '@shadowbox/terminal': path.join(root, 'clients/terminal/src/index.ts'),
      '@shadowbox/web': path.join(root, 'clients/web/node/index.ts'),
    },
    // Optional native helpers of ws: required inside try/catch, absent here.
    external: ['bufferutil', 'utf-8-validate'],
    // ASCII only (comments dropped, strings escaped): the loader reads it as latin1, ~4× faster than
    // decoding UTF-8, and V8 keeps it as a one-byte string. Names are kept for stack traces; the
    // source map (NODE_OPTIONS=--enable-source-maps) maps them back to the sources.
    charset: 'ascii',
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: 'linked',
    plugins: [englishOnlyZod(), importMetaUrl, lazyCrypto],
    // Where the WASI worker's own bundle is, relative to dist/wasi/ (what worker-pool.ts sees as its folder).
    define: {
      SHADOWBOX_WASI_WORKER_BUNDLE: JSON.stringify('../bundle/wasi-worker.cjs'),
      SHADOWBOX_SPAWNER_BUNDLE: JSON.stringify('../bundle/spawner.cjs'),
    },
    logLevel: 'warning',
    metafile: true,
    write: false,
  };
  const [result, daemonResult, loaderResult] = await Promise.all([
    build({
      ...options,
      ...WRAPPED,
      entryPoints: {
        client: path.join(root, 'daemon/src/cli/client-main.ts'),
        acp: path.join(root, 'daemon/src/cli/acp-main.ts'),
      },
    }),
    build({
      ...options,
      ...WRAPPED,
      entryPoints: { shadowbox: path.join(root, 'daemon/src/cli/main.ts') },
      plugins: [parts(seen), ...options.plugins],
    }),
    // Not wrapped: the bin requires the loader as an ordinary CommonJS module.
    build({
      ...options,
      entryPoints: { loader: path.join(root, 'daemon/src/cli/compile-cache.ts') },
      plugins: pluginsWithoutZod(),
    }),
  ]);
  checkNoDynamicImports(result.metafile);
  checkNoDynamicImports(daemonResult.metafile);
  checkNoDynamicImports(loaderResult.metafile);
  // Each part: its package's subpaths that the daemon's bundle imports, as the keys of one exports object.
  const partResults = await Promise.all(
    Object.entries(PARTS).map(([pkg, name]) => {
      const subs = [...(seen[pkg] ?? [])].sort();
      if (subs.length === 0) throw new Error(`scripts/bundle.mjs: nothing imports ${pkg} any more: drop it from PARTS`);
      const spec = (sub) => (sub === '.' ? pkg : `${pkg}/${sub}`);
      const contents = `module.exports = {\n${subs.map((sub) => `  ${JSON.stringify(sub)}: require(${JSON.stringify(spec(sub))}),`).join('\n')}\n};\n`;
      return build({
        ...options,
        ...WRAPPED,
        outdir: undefined,
        outExtension: undefined,
        stdin: { contents, resolveDir: root, sourcefile: `part-${name}.cjs`, loader: 'js' },
        plugins: pluginsWithoutZod(),
        outfile: partFile(name),
      }).then((r) => (checkNoDynamicImports(r.metafile), r));
    }),
  );
  const [worker, spawner] = await Promise.all(
    [
      ['daemon/src/wasi/worker/entry.ts', wasiWorkerOutfile],
      ['daemon/src/spawner/child.ts', spawnerOutfile],
    ].map(([entry, file]) =>
      build({
        entryPoints: [path.join(root, entry)],
        outfile: file,
        bundle: true,
        format: 'cjs',
        platform: 'node',
        target: 'node20',
        minifyWhitespace: true,
        minifySyntax: true,
        logLevel: 'warning',
        metafile: true,
        write: false,
      }),
    ),
  );
  // Each file lands whole (temp + rename): a CLI started meanwhile reads the old bundle or the new one.
  mkdirSync(outdir, { recursive: true });
  const results = [result, daemonResult, loaderResult, ...partResults, worker, spawner];
  const outputs = results.flatMap((r) => r.outputFiles);
  for (const f of outputs) {
    writeFileSync(`${f.path}.tmp`, f.contents);
    renameSync(`${f.path}.tmp`, f.path);
  }
  for (const file of cached) {
    const bytes = readFileSync(file);
    if (bytes.some((b) => b > 0x7f)) throw new Error(`${file}: not ASCII (the loader reads it as latin1)`);
    const st = statSync(file);
    const identity = {
      sha256: createHash('sha256').update(bytes).digest('hex'),
      size: st.size,
      mtimeMs: st.mtimeMs,
      ascii: true,
    };
    writeFileSync(`${file}.json.tmp`, `${JSON.stringify(identity)}\n`);
    renameSync(`${file}.json.tmp`, `${file}.json`);
  }
  const inputsOf = (file) => {
    const out = path.relative(root, file).split(path.sep).join('/');
    const metas = results.map((r) => r.metafile.outputs);
    return Object.keys(Object.assign({}, ...metas)[out]?.inputs ?? {}).length;
  };
  return {
    files: [...cached, loaderOutfile, wasiWorkerOutfile, spawnerOutfile].map((file) => ({
      file,
      bytes: statSync(file).size,
      inputs: inputsOf(file),
    })),
    ms: performance.now() - started,
  };
}

/**
 * A dynamic import() that esbuild leaves in a bundle (a Node builtin or an external) throws
 * ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING whenever the loader runs the bundle from a V8 code-cache hit:
 * Node 20 drops vm.Script's importModuleDynamically with cachedData (cli/compile-cache.test.ts shows it).
 * The sources load builtins lazily with process.getBuiltinModule instead; this fails the build on any
 * that is left. The allowed one is never reached on Node 20 (globalThis.crypto is there first).
 */
const DYNAMIC_IMPORTS_ALLOWED = new Set([
  'node_modules/pkce-challenge/dist/index.node.js -> node:crypto',
  // The same in its CommonJS build, which the MCP part (required, not imported) resolves to.
  'node_modules/pkce-challenge/dist/index.node.cjs -> node:crypto',
]);
function checkNoDynamicImports(metafile) {
  const left = [];
  for (const [input, { imports }] of Object.entries(metafile.inputs))
    for (const i of imports)
      if (i.kind === 'dynamic-import' && i.external && !DYNAMIC_IMPORTS_ALLOWED.has(`${input} -> ${i.path}`))
        left.push(`${input} -> ${i.path}`);
  if (left.length)
    throw new Error(
      `dynamic import() left in the bundles (fails on a code-cache hit; use process.getBuiltinModule): ${left.join(', ')}`,
    );
}

/** Whether the bundle is missing or older than a source. */
export function bundleIsStale() {
  try {
    return (
      Math.min(...[...cached, loaderOutfile, wasiWorkerOutfile, spawnerOutfile].map((f) => statSync(f).mtimeMs)) <
      newestSource()
    );
  } catch {
    return true;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  if (process.argv.includes('--if-stale') && !bundleIsStale()) process.exit(0);
  const r = await bundle();
  for (const f of r.files)
    console.log(
      `bundled ${f.inputs} files into ${path.relative(root, f.file)} (${(f.bytes / 1048576).toFixed(2)} MiB)`,
    );
  console.log(`in ${Math.round(r.ms)} ms`);
}
