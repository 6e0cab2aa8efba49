// vitest globalSetup. Tests run the TypeScript sources, but two kinds of code run outside vitest:
// - end-to-end tests start daemon/bin/shadowbox.js, which runs the bundled CLI (dist/bundle/shadowbox.cjs):
//   rebuilt from the sources first when any of them is newer (scripts/bundle.mjs; nothing when fresh);
// - worker threads load compiled modules: these are compiled to where `tsc -b` puts them (esbuild strips
//   the types file by file; `tsc -b` writes the same files again), so tests run the current sources.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';
import { bundle, bundleIsStale } from './bundle.mjs';

/** Worker-thread modules and the spawner process's (they import only node built-ins, packages and each other). */
const WORKER_MODULES = [
  'daemon/src/tools/builtin/grep-worker-thread.ts',
  'daemon/src/spawner/child.ts',
  'daemon/src/spawner/direct.ts',
  'daemon/src/spawner/ipc.ts',
  'daemon/src/spawner/types.ts',
];

export default async function setup() {
  for (const rel of WORKER_MODULES) {
    const src = fileURLToPath(new URL(`../${rel}`, import.meta.url));
    const out = src.replace(/([\\/]daemon[\\/])src([\\/])/, '$1dist$2').replace(/\.ts$/, '.js');
    const { code } = transformSync(readFileSync(src, 'utf8'), {
      loader: 'ts',
      format: 'esm',
      target: 'node20',
      sourcefile: src,
    });
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, code);
  }
  if (bundleIsStale()) await bundle();
}
