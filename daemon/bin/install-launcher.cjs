#!/usr/bin/env node
// The release's install step (package.json postinstall, scripts/release/pack.mjs): puts the native launcher
// (native/shadowbox-<platform>-<arch>, clients/launcher) in the bin's place when one was built for this machine and
// runs here. It is tried first: through it, `shadowbox --version` must reach the Node CLI and answer. Otherwise the
// bin stays the Node one, which runs every command (only `shadowbox python` and `status` start slower), and this says why.
// Never fails the install.
'use strict';
const { spawnSync } = require('node:child_process');
const { chmodSync, copyFileSync, existsSync, renameSync, rmSync } = require('node:fs');
const path = require('node:path');

const native = path.join(__dirname, 'native', `shadowbox-${process.platform}-${process.arch}`);
const bin = path.join(__dirname, 'shadowbox');
const note = (why) =>
  console.log(`shadowbox: keeping the Node bin (${why}); every command works, python and status start slower`);

if (!existsSync(native)) note(`no native launcher for ${process.platform}-${process.arch} in this release`);
else {
  const tmp = `${bin}.${process.pid}.tmp`;
  try {
    copyFileSync(native, tmp);
    chmodSync(tmp, 0o755);
    // As the installed bin will run: from this folder, so it finds shadowbox.js beside it, and node on PATH.
    const r = spawnSync(tmp, ['--version'], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0 && /^shadowbox \d/.test(r.stdout)) renameSync(tmp, bin);
    else note(`the launcher did not run here: ${r.error?.message ?? (r.stderr.trim() || `exit ${r.status}`)}`);
  } catch (e) {
    note(String(e?.message ?? e));
  } finally {
    rmSync(tmp, { force: true });
  }
}
