// Fetches pinned Debian source packages without touching the system's apt configuration: a private
// sources list (deb-src only) and private lists/cache folders under bundles/.cache/apt/, passed to
// apt-get with -o Dir::... options. apt verifies every file against the signed Release/Sources.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CACHE, run } from './lib.mjs';

const APT = join(CACHE, 'apt');
const SUITES = ['bookworm', 'bookworm-updates'];

function aptOptions() {
  return [
    '-o',
    `Dir::Etc::SourceList=${join(APT, 'sources.list')}`,
    '-o',
    `Dir::Etc::SourceParts=${join(APT, 'sources.list.d')}`,
    '-o',
    `Dir::State::Lists=${join(APT, 'lists')}`,
    '-o',
    `Dir::Cache=${join(APT, 'cache')}`,
    '-o',
    'APT::Sandbox::User=root',
  ];
}

async function ensureLists() {
  await mkdir(join(APT, 'lists', 'partial'), { recursive: true });
  await mkdir(join(APT, 'cache', 'archives', 'partial'), { recursive: true });
  await mkdir(join(APT, 'sources.list.d'), { recursive: true });
  const list = `${SUITES.map((s) => `deb-src http://deb.debian.org/debian ${s} main`).join('\n')}\ndeb-src http://deb.debian.org/debian-security bookworm-security main\n`;
  await writeFile(join(APT, 'sources.list'), list);
  const fresh = await stat(join(APT, 'lists', 'updated'))
    .then((s) => Date.now() - s.mtimeMs < 86_400_000)
    .catch(() => false);
  if (!fresh) {
    await run('apt-get', [...aptOptions(), 'update', '-qq']);
    await writeFile(join(APT, 'lists', 'updated'), new Date().toISOString());
  }
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Downloads `pkg=version` into bundles/.cache/sources/<pkg>_<version>/ (once) and returns the files
 * with their SHA-256 for the manifest's provenance.
 */
export async function fetchSource(pkg, version) {
  const dir = join(CACHE, 'sources', `${pkg}_${version}`);
  const done = join(dir, '.complete');
  if (!(await stat(done).catch(() => null))) {
    await ensureLists();
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    try {
      await run('apt-get', [...aptOptions(), 'source', '--download-only', '-qq', `${pkg}=${version}`], { cwd: dir });
    } catch (e) {
      // deb.debian.org only carries the current versions: after a Debian point or security release the
      // pinned one is gone. Build the newest version that downloads instead (apt still verifies it), say
      // so, and record the real version in the bundle's provenance.
      let got = null;
      for (const v of await availableVersions(pkg)) {
        if (v === version) continue;
        try {
          await run('apt-get', [...aptOptions(), 'source', '--download-only', '-qq', `${pkg}=${v}`], { cwd: dir });
          got = v;
          break;
        } catch {
          // not downloadable from this mirror (e.g. only listed by the security suite); try the next
        }
      }
      if (!got) throw e;
      console.warn(
        `bundles: ${pkg}=${version} is no longer in the archive; built ${pkg}=${got} instead (update the recipe's pin)`,
      );
      await writeFile(join(dir, '.substituted'), got);
    }
    await writeFile(done, '');
  }
  const substituted = (await readFile(join(dir, '.substituted'), 'utf8').catch(() => '')).trim();
  const names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
  const files = [];
  for (const name of names) files.push({ name, sha256: sha256(await readFile(join(dir, name))) });
  const dsc = names.find((n) => n.endsWith('.dsc'));
  if (!dsc) throw new Error(`no .dsc for ${pkg}=${version} in ${dir}`);
  return { dir, dsc: join(dir, dsc), files, version: substituted || version };
}

/** Versions of a source package in the private deb-src lists, newest first. */
async function availableVersions(pkg) {
  const out = await run('apt-cache', [...aptOptions(), 'showsrc', '--only-source', pkg]).catch(() => '');
  const sorted = [];
  for (const v of new Set([...out.matchAll(/^Version: (\S+)$/gm)].map((m) => m[1]))) {
    // dpkg decides version order.
    let i = 0;
    while (
      i < sorted.length &&
      (await run('dpkg', ['--compare-versions', v, 'gt', sorted[i]]).then(
        () => false,
        () => true,
      ))
    )
      i++;
    sorted.splice(i, 0, v);
  }
  return sorted;
}

/** Unpacks a source package (Debian patches applied) into `dest` and returns its changelog timestamp. */
export async function unpackSource(src, dest) {
  await rm(dest, { recursive: true, force: true });
  await run('dpkg-source', ['--no-check', '-x', src.dsc, dest]);
  const ts = (await run('dpkg-parsechangelog', ['-l', join(dest, 'debian', 'changelog'), '-STimestamp'])).trim();
  return Number(ts);
}
