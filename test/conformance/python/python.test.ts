// CPython 3.11.2's own regression tests (Lib/test of the bundle's exact Debian source, see
// fetch-lib-test.mjs) for 30 common modules, run inside the sandboxed interpreter (the python
// bundle through createPython, Lib/test mounted read-only at /workspace: the tests write to a
// private copy), in two concurrent sandboxes, each module compared with expectations.json.
import { execFile } from 'node:child_process';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPython, type Python } from '../../../daemon/src/python/index.js';
import { findBuiltPythonBundle, loadBundleDir } from '../../../daemon/src/python/test-support.js';
import { createReadOnlyDirView } from '../../../daemon/src/shadow/index.js';

const Module = z.object({
  ran: z.number().int(),
  skipped: z.number().int(),
  failures: z.array(z.string()),
  errors: z.array(z.string()),
  /** Measured seconds in the sandbox: only to balance the two groups. */
  seconds: z.number(),
});
const Expectations = z.object({
  native: z.object({ ran: z.number(), failures: z.number(), errors: z.number(), skipped: z.number() }),
  skips: z.record(z.string(), z.string()),
  modules: z.record(z.string(), Module),
});
const Result = z.record(
  z.string(),
  z.object({
    ran: z.number(),
    failures: z.array(z.tuple([z.string(), z.string()])),
    errors: z.array(z.tuple([z.string(), z.string()])),
    skipped: z.array(z.tuple([z.string(), z.string()])),
    seconds: z.number(),
  }),
);
type Result = z.infer<typeof Result>;

const here = new URL('.', import.meta.url).pathname;
const expectations = Expectations.parse(JSON.parse(await readFile(join(here, 'expectations.json'), 'utf8')) as unknown);
const modules = Object.keys(expectations.modules);
const bundle = findBuiltPythonBundle();
if (!bundle) console.log('python conformance: skipped (no python bundle built: node bundles/scripts/build.mjs python)');

/** Splits modules into `n` groups of similar measured time (longest first). */
function balance(n: number): string[][] {
  const groups = Array.from({ length: n }, () => ({ names: [] as string[], seconds: 0 }));
  const sorted = [...modules].sort((a, b) => expectations.modules[b].seconds - expectations.modules[a].seconds);
  for (const m of sorted) {
    const g = groups.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    g.names.push(m);
    g.seconds += expectations.modules[m].seconds;
  }
  return groups.map((g) => g.names);
}

describe.skipIf(!bundle)("CPython's Lib/test in the sandbox", () => {
  let python: Python;
  const results: Result = {};

  beforeAll(async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(here, 'fetch-lib-test.mjs')]);
    const dir = stdout.trim();
    await copyFile(join(here, 'driver.py'), join(dir, '_shadowbox_conformance.py'));
    const view = await createReadOnlyDirView(dir);
    python = createPython({
      loadBundle: () => loadBundleDir(bundle!),
      limits: { timeoutMs: 900_000, maxTimeoutMs: 900_000, maxOutputBytes: 64 << 20 },
    });
    const skips = Object.entries(expectations.skips).flatMap(([id, why]) => ['--skip', `${id}=${why}`]);
    await Promise.all(
      balance(2).map(async (group) => {
        const r = await python.run({ file: '_shadowbox_conformance.py', args: [...skips, ...group] }, { view });
        const at = r.stdout.lastIndexOf('@@RESULT@@');
        if (at < 0) throw new Error(`no result (exit ${String(r.exitCode)}): ${r.stderr.slice(-4000)}`);
        Object.assign(results, Result.parse(JSON.parse(r.stdout.slice(at + 10)) as unknown));
      }),
    );
  }, 1_200_000);
  afterAll(() => python?.close());

  for (const name of modules) {
    it(`${name} matches its expectation`, () => {
      const want = expectations.modules[name];
      const got = results[name];
      expect(got, `${name} did not report`).toBeDefined();
      const ids = (l: [string, string][]) => l.map(([t]) => t).sort();
      // The tracebacks are in the message when a test starts failing.
      const tracebacks = [...got.failures, ...got.errors].map(([t, tb]) => `${t}\n${tb}`).join('\n\n');
      expect(ids(got.failures), tracebacks).toEqual([...want.failures].sort());
      expect(ids(got.errors), tracebacks).toEqual([...want.errors].sort());
      expect({ ran: got.ran, skipped: got.skipped.length }).toEqual({ ran: want.ran, skipped: want.skipped });
    });
  }
});
