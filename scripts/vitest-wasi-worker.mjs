// vitest globalSetup: the WASI sandbox worker runs as a compiled module in a worker thread, which
// vitest (running the sources) cannot transform. Before the tests, compile daemon/src/wasi/{host,
// worker}/*.ts to where `tsc -b` puts them (daemon/dist/wasi/…), so tests always run the current
// sources. esbuild only strips types, file by file; `tsc -b` writes the same files again.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transformSync } from 'esbuild';

export default function setup() {
  const wasi = fileURLToPath(new URL('../daemon/src/wasi/', import.meta.url));
  const out = fileURLToPath(new URL('../daemon/dist/wasi/', import.meta.url));
  for (const dir of ['host', 'worker']) {
    mkdirSync(join(out, dir), { recursive: true });
    for (const f of readdirSync(join(wasi, dir))) {
      if (!f.endsWith('.ts') || f.endsWith('.test.ts') || f.endsWith('.d.ts')) continue;
      const { code } = transformSync(readFileSync(join(wasi, dir, f), 'utf8'), {
        loader: 'ts',
        format: 'esm',
        target: 'node20',
        sourcefile: join(wasi, dir, f),
      });
      writeFileSync(join(out, dir, f.replace(/\.ts$/, '.js')), code);
    }
  }
}
