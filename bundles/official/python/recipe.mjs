// CPython 3.11.2 for wasm32-wasi (Debian bookworm python3.11 source + its upstream security
// fixes), with zlib, bzip2, liblzma and sqlite3 from their Debian sources as static wasm libraries,
// pre-initialized with Wizer. The work is done by build.sh (usable on its own); this file adapts it
// to bundles/scripts/build.mjs, which fetches the pinned sources and signs the result.
import { mkdir, readdir, symlink } from 'node:fs/promises';
import { join } from 'node:path';

// build.sh unpacks the .dsc files itself (python3.11 without Debian's packaging patches).
export const unpack = false;
// 2025-05-20, the Debian snapshot date the versions are pinned to (also build.sh's default).
export const sourceDateEpoch = 1747699200;

export const sources = [
  { package: 'python3.11', version: '3.11.2-6+deb12u8' },
  { package: 'zlib', version: '1:1.2.13.dfsg-1' },
  { package: 'bzip2', version: '1.0.8-5' },
  { package: 'xz-utils', version: '5.4.1-1+deb12u2' },
  { package: 'sqlite3', version: '3.40.1-2+deb12u2' },
  { package: 'wasi-libc', version: '0.0~git20220510.9886d3d-2' },
];

export async function build(ctx) {
  // One folder with every downloaded source file (the driver fetched and verified them).
  const dl = join(ctx.work, 'dl');
  await mkdir(dl, { recursive: true });
  for (const s of sources) {
    const got = ctx.sourceFiles[s.package];
    for (const name of await readdir(got.dir))
      if (!name.startsWith('.')) await symlink(join(got.dir, name), join(dl, name));
  }
  const out = join(ctx.work, 'out');
  await ctx.run('bash', [join(ctx.recipeDir, 'build.sh'), out], {
    env: { ...ctx.env, SHADOWBOX_PYTHON_SOURCES: dl, SHADOWBOX_PYTHON_CACHE: join(ctx.work, 'cache'), FORCE: '1' },
  });
  const files = {};
  for (const rel of [
    'python.wasm',
    'lib/python311.zip',
    'lib/python3.11/os.py',
    'lib/python3.11/pip-22.3.1-py3-none-any.whl',
    'lib/python3.11/lib-dynload/.keep',
    'BUILDINFO.txt',
  ]) {
    files[rel] = join(out, rel);
  }
  return {
    files,
    flags: [
      '-O2',
      '-D_WASI_EMULATED_MMAN',
      '-Wno-error=int-conversion',
      '-Wno-error=incompatible-function-pointer-types',
      '--with-pymalloc',
      'wizer',
    ],
  };
}
