#!/usr/bin/env node
// The shadowbox CLI (also the daemon, the ACP bridge and the language server). It runs a bundle that
// `npm run build` writes, loaded with a V8 code cache (dist/bundle/loader.cjs, from cli/compile-cache.ts):
// dist/bundle/client.cjs for the commands that only talk to a running daemon, dist/bundle/acp.cjs for
// `shadowbox acp` (the ACP bridge), dist/bundle/shadowbox.cjs for everything else; or the compiled tree
// in dist/ when there are no bundles or SHADOWBOX_BUNDLE=0.
// CommonJS (daemon/bin/package.json), so starting the CLI loads no ES module: Node's ES module loader
// costs ~10 ms of every command.
'use strict';
const { existsSync } = require('node:fs');
const path = require('node:path');

// The commands in the client bundle: exactly the keys of clientLoaders in daemon/src/cli/client-commands.ts
// (cli/client-commands.test.ts checks the two lists); help and --version are answered by it too.
const CLIENT = new Set(
  'run sessions review accept reject undo shadow python exec wasi status stop help --help -h --version -V'.split(' '),
);

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

// A reader that goes away early (`shadowbox review | head -3`): the next write fails with EPIPE, which Node throws as
// an unhandled 'error' event (a stack trace, exit 1). The command ends there, quietly, as a program that SIGPIPE
// kills does (exit 141 = 128 + SIGPIPE, as git and coreutils give). Not for the commands whose stdio carries a
// protocol (daemon --stdio, acp, lsp): their connection handles its own stream's errors.
if (!['daemon', 'acp', 'lsp'].includes(argv[0])) {
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (e) => {
      if (e && e.code === 'EPIPE') process.exit(141);
      throw e;
    });
}
const dist = path.join(__dirname, '..', 'dist');
// `shadowbox acp` runs its own bundle, with V8 flags for a low-throughput relay kept running beside the
// editor: no optimizing compiler, a young generation that does not grow, V8's size-over-speed choices
// (docs/editors.md). SHADOWBOX_ACP_V8_FLAGS replaces them (space-separated; empty: Node's defaults).
const ACP = argv[0] === 'acp';
const ACP_V8_FLAGS = '--no-opt --semi-space-growth-factor=1 --optimize-for-size';

async function run() {
  const name = argv[0] ?? 'help';
  const bundleFile = path.join(dist, 'bundle', ACP ? 'acp.cjs' : CLIENT.has(name) ? 'client.cjs' : 'shadowbox.cjs');
  const loaderFile = path.join(dist, 'bundle', 'loader.cjs');
  let main;
  if (process.env.SHADOWBOX_BUNDLE !== '0' && existsSync(bundleFile) && existsSync(loaderFile)) {
    const { loadBundle, defaultCacheDir, nameHash } = require(loaderFile);
    const v8Flags = ACP ? (process.env.SHADOWBOX_ACP_V8_FLAGS ?? ACP_V8_FLAGS).split(/\s+/).filter(Boolean) : [];
    // V8 refuses a code cache made under other flags: the flags (set here, on node's command line, as the
    // auto-started daemon's are, or in NODE_OPTIONS, which execArgv does not show) are part of the cache's
    // name, so one set of flags does not evict another's (an editor that sets NODE_OPTIONS and a terminal
    // that does not would otherwise rewrite the cache on every other start).
    const flags = [
      ...process.execArgv,
      ...v8Flags,
      ...(process.env.NODE_OPTIONS ? [`~${process.env.NODE_OPTIONS}`] : []),
    ];
    // Flags as part of a file name: as they are when short, else their hash (a name, not a check: V8 checks).
    const text = flags.join('');
    const key = !flags.length ? name : text.length <= 48 ? `${name}${text}` : `${name}-flags${nameHash(text)}`;
    main = loadBundle({ bundleFile, cacheDir: defaultCacheDir(process.env), key, v8Flags }).exports.main;
  } else {
    main = (await import('../dist/cli/main.js')).main;
  }
  process.exitCode = await main(argv, io);
}

run().catch((e) => {
  process.stderr.write(`shadowbox: ${e?.stack ?? String(e)}\n`);
  process.exitCode = 1;
});
