#!/usr/bin/env node
// Lays out CPython's own Lib/test for the python bundle's exact source: the pinned Debian
// python3.11 source package (fetched and verified by bundles/scripts/debian-source.mjs, the same
// cache the bundle build fills), unpacked without Debian's packaging patches, then the upstream
// fixes from shutdown-deadlock.diff on applied as recipe/build-cpython.sh applies them. Prints the
// folder that holds `test/` (bundles/.cache/python-lib-test/<version>/); cached after the first run.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fetchSource } from '../../../bundles/scripts/debian-source.mjs';
import { CACHE } from '../../../bundles/scripts/lib.mjs';
import { sources } from '../../../bundles/official/python/recipe.mjs';

const run = promisify(execFile);
const pin = sources.find((s) => s.package === 'python3.11');
const out = join(CACHE, 'python-lib-test', pin.version);
if (!(await stat(join(out, '.complete')).catch(() => null))) {
  const src = await fetchSource(pin.package, pin.version);
  const work = join(CACHE, 'work', 'python-lib-test');
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });
  const tree = join(work, 'src');
  await run('dpkg-source', ['--no-check', '--skip-patches', '-x', src.dsc, tree]);
  const series = (await readFile(join(tree, 'debian', 'patches', 'series'), 'utf8')).split('\n');
  let started = false;
  const applied = [];
  for (const line of series.map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue;
    if (line === 'shutdown-deadlock.diff') started = true;
    if (!started) continue;
    const patch = join(tree, 'debian', 'patches', line);
    const ok = await run('patch', ['-s', '-p1', '--forward', '--dry-run', '-i', patch], { cwd: tree }).then(
      () => true,
      () => false,
    );
    if (ok) {
      await run('patch', ['-s', '-p1', '--forward', '-i', patch], { cwd: tree });
      applied.push(line);
    }
  }
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await cp(join(tree, 'Lib', 'test'), join(out, 'test'), { recursive: true });
  await writeFile(join(out, 'debian-patches.txt'), applied.join('\n') + '\n');
  await rm(work, { recursive: true, force: true });
  await writeFile(join(out, '.complete'), '');
}
process.stdout.write(`${out}\n`);
