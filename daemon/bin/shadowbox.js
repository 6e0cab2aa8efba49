#!/usr/bin/env node
// The shadowbox CLI (also the daemon, the ACP bridge and the language server). It runs the bundled file
// that `npm run build` writes (dist/bundle/shadowbox.cjs, loaded with a V8 code cache; `shadowbox acp`
// runs the bridge's own smaller bundle, dist/bundle/acp.cjs), or the compiled tree in dist/ when there
// is no bundle or SHADOWBOX_BUNDLE=0.
import { existsSync } from 'node:fs';

// process.stdin is created on first access (~15 ms for a pipe): only commands that read it pay for it.
const io = {
  env: process.env,
  cwd: process.cwd(),
  stdout: process.stdout,
  stderr: process.stderr,
  get stdin() {
    return process.stdin;
  },
};
const argv = process.argv.slice(2);
const ACP_V8_FLAGS = '--no-opt --semi-space-growth-factor=1 --optimize-for-size';
// `acp --help` is the full CLI's (its help text).
const acp = argv[0] === 'acp' && !argv.includes('--help') && !argv.includes('-h');
const bundleFile = new URL(`../dist/bundle/${acp ? 'acp' : 'shadowbox'}.cjs`, import.meta.url).pathname;
let main;
if (process.env.SHADOWBOX_BUNDLE !== '0' && existsSync(bundleFile)) {
  const { loadBundle, defaultCacheDir } = await import('../dist/cli/compile-cache.js');
  main = loadBundle({
    bundleFile,
    cacheDir: defaultCacheDir(process.env),
    key: argv[0] ?? 'help',
    // The bridge is a low-throughput relay kept running beside the editor: no optimizing compiler, a
    // young generation that does not grow, V8's size-over-speed choices (docs/editors.md).
    // SHADOWBOX_ACP_V8_FLAGS replaces them (space-separated; empty: Node's defaults).
    v8Flags: acp ? (process.env.SHADOWBOX_ACP_V8_FLAGS ?? ACP_V8_FLAGS).split(/\s+/).filter(Boolean) : [],
  }).exports.main;
} else {
  main = (await import('../dist/cli/main.js')).main;
}
process.exitCode = await main(argv, io);
