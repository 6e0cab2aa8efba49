// The official bundles built from Debian sources in this checkout: reproducible, signed, installable
// into a brand-new state dir with no extra step, and runnable. Needs clang-19 + wasi-libc (Debian
// packages) and the compiled daemon (`npx tsc -b daemon`, which `npm test` does first).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WASI } from 'node:wasi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalBytes, sha256Hex } from './crypto.js';
import { createBundleService, REPO_ROOT } from './service.js';
import { mapToolInput } from './tool-args.js';

interface BuildResult {
  manifest: { files: Array<{ path: string; sha256: string }> };
  files: Map<string, Buffer>;
  cached: boolean;
}
interface BuildModule {
  buildRecipe(name: string, o: { force?: boolean; workDir?: string }): Promise<BuildResult>;
  buildAndPublish(name: string, o: { out: string }): Promise<{ manifestSha256: string; signedBy: string }>;
}

const haveToolchain = (() => {
  try {
    execFileSync('clang-19', ['--version'], { stdio: 'ignore' });
    execFileSync('dpkg-query', ['-W', 'wasi-libc'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!haveToolchain)
  console.warn('official bundle tests skipped: clang-19 / wasi-libc (Debian packages) are not installed');

let tmp: string;
let build: BuildModule;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'sb-official-'));
  const path = join(REPO_ROOT, 'bundles', 'scripts', 'build.mjs');
  build = (await import(path)) as BuildModule;
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Runs a WASI module with node:wasi on a scratch folder mounted at /workspace; returns stdout. */
async function runWasi(
  bytes: Buffer,
  argv: string[],
  dir: string,
  env: Record<string, string> = {},
): Promise<{ code: number; out: string }> {
  const outFile = join(tmp, `stdout-${Date.now()}`);
  const { openSync, readFileSync } = await import('node:fs');
  // node:wasi takes ownership of the descriptor (it closes it when the instance goes away).
  const fd = openSync(outFile, 'w');
  const wasi = new WASI({
    version: 'preview1',
    args: ['prog', ...argv],
    env,
    preopens: { '/workspace': dir },
    stdout: fd,
    returnOnExit: true,
  });
  const inst = await WebAssembly.instantiate(
    await WebAssembly.compile(new Uint8Array(bytes)),
    wasi.getImportObject() as WebAssembly.Imports,
  );
  const code = wasi.start(inst);
  return { code, out: readFileSync(outFile, 'utf8') };
}

if (!haveToolchain && process.env.SHADOWBOX_REQUIRE_BUNDLES)
  throw new Error(
    'SHADOWBOX_REQUIRE_BUNDLES is set but the wasm32-wasi toolchain is missing (scripts/setup.sh installs it)',
  );
describe.skipIf(!haveToolchain)('official bundles', () => {
  it('jq rebuilds byte-identically from a different build path', async () => {
    const a = await build.buildRecipe('jq', { force: true, workDir: join(tmp, 'work-a') });
    const b = await build.buildRecipe('jq', { force: true, workDir: join(tmp, 'elsewhere', 'work-b') });
    expect(a.cached || b.cached).toBe(false);
    expect(sha256Hex(canonicalBytes(a.manifest))).toBe(sha256Hex(canonicalBytes(b.manifest)));
    expect(Buffer.compare(a.files.get('bin/jq.wasm')!, b.files.get('bin/jq.wasm')!)).toBe(0);
    // Unchanged recipe: the next build is a cache hit.
    expect((await build.buildRecipe('jq', {})).cached).toBe(true);
  }, 120_000);

  it('a brand-new state dir loads and runs jq and sqlite from the local build output', async () => {
    const out = join(tmp, 'out');
    await build.buildAndPublish('jq', { out });
    await build.buildAndPublish('sqlite', { out });
    const svc = createBundleService({ stateDir: join(tmp, 'state'), localOutputDir: out });
    const ws = join(tmp, 'ws');
    execFileSync('mkdir', ['-p', ws]);
    await writeFile(
      join(ws, 'data.json'),
      JSON.stringify({
        items: [
          { id: 1, name: 'a' },
          { id: 2, name: 'b' },
        ],
      }),
    );

    const jq = await svc.load('jq');
    const jqCall = mapToolInput(
      jq.tools[0],
      { filter: '[.items[] | .id * 10]', file: 'data.json', compact: true },
      jq.manifest,
    );
    expect(jqCall.argv).toEqual(['-c', '[.items[] | .id * 10]', '/workspace/data.json']);
    expect(await runWasi(jq.entry.bytes, jqCall.argv, ws)).toEqual({ code: 0, out: '[10,20]\n' });

    const sqlite = await svc.load('sqlite');
    expect(sqlite.tools[0].name).toBe('sqlite');
    const sqlCall = mapToolInput(
      sqlite.tools[0],
      { db: 't.db', mode: 'json', sql: 'ignored: the test passes SQL as an argument' },
      sqlite.manifest,
    );
    expect(sqlCall).toMatchObject({ argv: ['-bail', '-json', '/workspace/t.db'], env: { HOME: '/nonexistent' } });
    const r = await runWasi(
      sqlite.entry.bytes,
      [
        ...sqlCall.argv,
        "create table t(a, b); insert into t values (1, json_object('k', 2)); select a, b ->> 'k' as k from t;",
      ],
      ws,
      sqlCall.env,
    );
    expect(r).toEqual({ code: 0, out: '[{"a":1,"k":2}]\n' });
  }, 180_000);
});
