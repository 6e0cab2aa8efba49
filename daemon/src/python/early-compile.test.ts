// Issue 20 (python's first call after a start): CPython's compile starts from what the installed manifest claims
// (read without any check) while the bundle's signature and files are checked; the compiled module is used only
// when the checked bundle names the same file, hash and size. A claim that differs is compiled and never run.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { DEFAULT_PYTHON_LIMITS, PythonSandbox } from './runtime.js';
import { findBuiltPythonBundle, loadBundleDir, MemoryLayerView } from './test-support.js';
import type { PythonBundleFiles } from './types.js';

const bundleDir = findBuiltPythonBundle();
const load = () => loadBundleDir(bundleDir as string);
const view = () => new MemoryLayerView(tmpdir());
const scratch = mkdtempSync(join(tmpdir(), 'sbx-early-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A valid module that is not CPython (it exports nothing): run in CPython's place, a call could not print. */
function emptyModule(): PythonBundleFiles['module'] {
  const bytes = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  const path = join(scratch, 'other.wasm');
  writeFileSync(path, bytes);
  return { path, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length };
}

async function runOnce(sb: PythonSandbox) {
  try {
    return await sb.run({ code: 'print(1+1)' }, { view: view() });
  } finally {
    await sb.close();
  }
}

describe.skipIf(!bundleDir)('python compiles early from the claimed module, runs only the checked one', () => {
  it('a claim the checked bundle agrees with is the module used: one compile', async () => {
    const sb = new PythonSandbox(load, DEFAULT_PYTHON_LIMITS, undefined, { claimBundle: load });
    expect(await runOnce(sb)).toMatchObject({ exitCode: 0, stdout: '2\n' });
    expect(sb.compiles).toBe(1);
  }, 60_000);

  it('a claim naming another module (a reinstall meanwhile, a forged manifest) is compiled, dropped, never run', async () => {
    const claimBundle = async () => ({ filesDir: bundleDir as string, module: emptyModule() });
    const sb = new PythonSandbox(load, DEFAULT_PYTHON_LIMITS, undefined, { claimBundle });
    expect(await runOnce(sb)).toMatchObject({ exitCode: 0, stdout: '2\n' });
    expect(sb.compiles).toBe(2);
  }, 60_000);

  it('a claimed hash the file does not have, a claim that fails, throws, finds nothing or never comes: the checked module is compiled', async () => {
    const real = await load();
    const claims: (() => Promise<PythonBundleFiles | null>)[] = [
      async () => ({ ...real, module: { ...real.module, sha256: '0'.repeat(64) } }),
      () => Promise.reject(new Error('no manifest')),
      () => {
        throw new Error('thrown before any promise');
      },
      async () => null,
      // A claim that never comes is not waited for.
      () => new Promise<never>(() => undefined),
    ];
    const compiles: number[] = [];
    for (const claimBundle of claims) {
      const sb = new PythonSandbox(load, DEFAULT_PYTHON_LIMITS, undefined, { claimBundle });
      expect(await runOnce(sb)).toMatchObject({ exitCode: 0, stdout: '2\n' });
      compiles.push(sb.compiles);
    }
    expect(compiles).toEqual([2, 1, 1, 1, 1]);
  }, 60_000);

  it('a bundle that fails its check fails the call, though its claim was compiled', async () => {
    const refused = new ShadowboxError(ErrorCodes.BundleVerificationFailed, 'manifest_tampered', 'changed on disk');
    let claimed!: () => void;
    const claimedOnce = new Promise<void>((resolve) => (claimed = resolve));
    const claimBundle = async () => {
      const c = await load();
      claimed();
      return c;
    };
    // The check fails once the claim is in (its compile started on the way): the call gets the check's refusal.
    const loadBundle = async (): Promise<PythonBundleFiles> => {
      await claimedOnce;
      await new Promise((r) => setImmediate(r));
      throw refused;
    };
    const sb = new PythonSandbox(loadBundle, DEFAULT_PYTHON_LIMITS, undefined, { claimBundle });
    await expect(runOnce(sb)).rejects.toBe(refused);
    expect(sb.compiles).toBe(1);
  }, 60_000);
});
