#!/usr/bin/env node
// Builds each named recipe twice, from two different build paths, ignoring the cache, and checks the
// payload files and the manifest are byte-identical (the archive then is too: it is a pure function
// of them). For CI: node bundles/scripts/check-reproducible.mjs jq sqlite
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRecipe } from './build.mjs';

const names = process.argv.slice(2);
if (!names.length) {
  console.error('usage: check-reproducible.mjs NAME...');
  process.exit(2);
}
const tmp = await mkdtemp(join(tmpdir(), 'sb-repro-'));
let failed = false;
try {
  for (const name of names) {
    const digest = (b) => createHash('sha256').update(JSON.stringify(b.manifest)).digest('hex');
    const a = await buildRecipe(name, { force: true, workDir: join(tmp, 'a', name) });
    const b = await buildRecipe(name, { force: true, workDir: join(tmp, 'b', 'deeper', name) });
    const same = digest(a) === digest(b) && [...a.files].every(([p, bytes]) => b.files.get(p)?.equals(bytes));
    console.log(`${name}: ${same ? 'byte-identical' : 'DIFFERENT'} (${a.buildMs} ms, ${b.buildMs} ms)`);
    if (!same) failed = true;
  }
} finally {
  await rm(tmp, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
