// Runs the official WASI preview-1 test suite (vendored prebuilt in ./suite, Apache-2.0, see
// suite/README.md) through shadowbox's real in-process runner: each test's root folder is copied
// fresh and mounted read-only at `/` (the guest works on a private copy), argv and env as its JSON
// specification says, and the exit code and output compared as specification.md describes.
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { createReadOnlyDirView } from '../../../daemon/src/shadow/index.js';
import type { WasiRuntime } from '../../../daemon/src/wasi/index.js';

export const SUITE = fileURLToPath(new URL('./suite/tests', import.meta.url));

const Spec = z.object({
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  root: z.string().nullable().default(null),
  exit_code: z.number().int().default(0),
  // Checked only when given, as the suite's reference runner does (some tests print diagnostics).
  stdout: z.string().optional(),
  stderr: z.string().optional(),
});

/** One test case: suite (c, rust, assemblyscript), name, its folder. */
export interface Case {
  id: string;
  dir: string;
  name: string;
}

/** Every `*.wasm` of the suite, sorted. */
export async function listCases(): Promise<Case[]> {
  const out: Case[] = [];
  for (const suite of ['assemblyscript', 'c', 'rust']) {
    const dir = join(SUITE, suite, 'testsuite', 'wasm32-wasip1');
    for (const f of (await readdir(dir)).sort()) {
      if (f.endsWith('.wasm')) out.push({ id: `${suite}/${f.slice(0, -5)}`, dir, name: f.slice(0, -5) });
    }
  }
  return out;
}

/** What one run did, as the checks see it. */
export interface CaseResult {
  pass: boolean;
  problems: string[];
}

/** Runs one case and checks it against its specification. */
export async function runCase(runtime: WasiRuntime, c: Case): Promise<CaseResult> {
  const raw: unknown = JSON.parse(await readFile(join(c.dir, `${c.name}.json`), 'utf8').catch(() => '{}'));
  const spec = Spec.parse(raw);
  const scratch = await mkdtemp(join(tmpdir(), 'sbx-wasi-suite-'));
  try {
    const views = [];
    if (spec.root !== null) {
      const copy = join(scratch, 'root');
      await cp(join(c.dir, spec.root), copy, {
        recursive: true,
        filter: (src) => !src.endsWith('.cleanup'),
      });
      views.push({ at: '/', view: await createReadOnlyDirView(copy), access: 'ro' as const });
    }
    const r = await runtime.run({
      module: { bytes: await readFile(join(c.dir, `${c.name}.wasm`)) },
      mounts: { views },
      cwd: '/',
      argv: [c.name, ...spec.args],
      env: spec.env,
      limits: { wallMs: 20_000, memoryBytes: 256 << 20, stdoutBytes: 1 << 20, stderrBytes: 1 << 20 },
    });
    const problems: string[] = [];
    if (r.outcome !== 'exited' || r.exitCode !== spec.exit_code)
      problems.push(
        `exit ${String(r.exitCode)} (want ${spec.exit_code}; outcome ${r.outcome}${r.trapMessage ? `: ${r.trapMessage}` : ''})`,
      );
    const stdout = Buffer.from(r.stdout).toString('utf8');
    if (spec.stdout !== undefined && stdout !== spec.stdout)
      problems.push(`stdout ${JSON.stringify(stdout.slice(0, 200))} (want ${JSON.stringify(spec.stdout)})`);
    const stderr = Buffer.from(r.stderr).toString('utf8');
    if (spec.stderr !== undefined && stderr !== spec.stderr)
      problems.push(`stderr ${JSON.stringify(stderr.slice(0, 200))}`);
    else if (problems.length > 0 && stderr) problems.push(`stderr: ${stderr.slice(0, 400)}`);
    return { pass: problems.length === 0, problems };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
