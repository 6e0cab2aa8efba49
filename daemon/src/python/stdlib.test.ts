// Python's /usr/local served from the bundle's files on disk: a stdlib file that changes after it was checked is
// never served (the run reads EIO and its result says file_mismatch; the next call checks the bundle again), and
// the descriptors stay one per file over many runs and are closed by close().
import { createHash } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { DEFAULT_PYTHON_LIMITS, PythonSandbox } from './runtime.js';
import { findBuiltPythonBundle, libIdentities, loadBundleDir, MemoryLayerView } from './test-support.js';

const bundleDir = findBuiltPythonBundle();
const ZIP = 'lib/python311.zip';
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** Descriptors of this process open on a file under `dir`. */
function fdsUnder(dir: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(`${dir}/`)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

describe.skipIf(!bundleDir || process.platform !== 'linux')('python stdlib read on demand', () => {
  let files: string;
  let zipSha: string;
  let sb: PythonSandbox;
  let loads = 0;
  // An empty workspace: python lists its cwd on imports, and tmpdir() can hold thousands of entries.
  const view = () => new MemoryLayerView(join(files, '..', 'ws'));

  beforeEach(() => {
    files = join(mkdtempSync(join(tmpdir(), 'sb-stdlib-')), 'files');
    cpSync(bundleDir as string, files, { recursive: true });
    mkdirSync(join(files, '..', 'ws'));
    zipSha = sha(join(files, ZIP));
    const signed = loadBundleDir(files); // python.wasm's hash as the manifest signs it: what the worker checks
    loads = 0;
    // As the daemon's bundles.locate: each load checks the payload (here: the zip's hash) before the stdlib is opened,
    // and gives the identities of the files it checked.
    const load = async () => {
      loads++;
      if (sha(join(files, ZIP)) !== zipSha)
        throw new ShadowboxError(ErrorCodes.BundleVerificationFailed, 'file_mismatch', `${ZIP} was changed on disk`);
      return { ...(await signed), lib: await libIdentities(files) };
    };
    sb = new PythonSandbox(load, { ...DEFAULT_PYTHON_LIMITS, memoryMb: 256 }, undefined);
  });
  afterEach(async () => {
    await sb.close();
    rmSync(join(files, '..'), { recursive: true, force: true });
  });

  it('fails the reads of a file changed during a run (EIO, error file_mismatch), then checks the bundle again', async () => {
    expect(await sb.run({ code: 'import json; print(json.dumps([1]))' }, { view: view() })).toMatchObject({
      exitCode: 0,
      stdout: '[1]\n',
      error: null,
    });
    expect(loads).toBe(1);
    // The guest reads the zip until a read fails; the host changes the zip's mode once the guest has read it once.
    const code = [
      'import errno, os, sys, time',
      `fd = os.open('/usr/local/${ZIP}', os.O_RDONLY)`,
      "print('read', os.pread(fd, 4, 0)); sys.stdout.flush()",
      'while True:',
      '    try: os.pread(fd, 4, 0)',
      "    except OSError as e: print('EIO', e.errno == errno.EIO); break",
      '    time.sleep(0.005)',
    ].join('\n');
    let changed = false;
    const r = await sb.run(
      { code, timeoutMs: 60_000 },
      {
        view: view(),
        onOutput: (_s, text) => {
          if (!changed && text.includes('read')) {
            changed = true;
            chmodSync(join(files, ZIP), 0o400);
          }
        },
      },
    );
    expect(r.stdout).toBe("read b'PK\\x03\\x04'\nEIO True\n");
    expect(r.error).toMatchObject({ reason: 'file_mismatch' });
    expect(r.error?.message).toContain(ZIP);
    // Same bytes, new mode: the next call checks the bundle again (it passes) and reads the file opened anew.
    expect(await sb.run({ code: 'import json; print(json.dumps([2]))' }, { view: view() })).toMatchObject({
      exitCode: 0,
      stdout: '[2]\n',
      error: null,
    });
    expect(loads).toBe(2);
  }, 120_000);

  it('never starts a run on bytes changed between runs: the bundle is checked again and refused', async () => {
    expect(await sb.run({ code: 'print(1)' }, { view: view() })).toMatchObject({ exitCode: 0, stdout: '1\n' });
    const zip = readFileSync(join(files, ZIP));
    zip[zip.length - 1] ^= 0xff; // same size, one byte differs (the end of the central directory's comment field)
    writeFileSync(join(files, ZIP), zip);
    await expect(sb.run({ code: 'print(1)' }, { view: view() })).rejects.toMatchObject({ reason: 'file_mismatch' });
    expect(fdsUnder(files)).toBe(0);
  }, 120_000);

  it('a zip replaced by a rename is not served either: the old inode changed (ctime); a same-bytes copy runs', async () => {
    expect(await sb.run({ code: 'print(1)' }, { view: view() })).toMatchObject({ exitCode: 0 });
    cpSync(join(files, ZIP), join(files, 'lib', 'new.zip'));
    renameSync(join(files, 'lib', 'new.zip'), join(files, ZIP));
    expect(await sb.run({ code: 'import json; print(json.dumps([3]))' }, { view: view() })).toMatchObject({
      exitCode: 0,
      stdout: '[3]\n',
      error: null,
    });
    expect(loads).toBe(2);
  }, 120_000);

  it('never reads python.wasm changed after it was checked (its data segments are read from it): the call checks the bundle again', async () => {
    expect(await sb.run({ code: 'print(1)' }, { view: view() })).toMatchObject({ exitCode: 0, stdout: '1\n' });
    // Same bytes, new mode (ctime changes): the next call finds it changed, prepares again (the worker hashes it anew:
    // the same signed bytes) and runs; the instance made ahead from the checked file, or one made afresh.
    chmodSync(join(files, 'python.wasm'), 0o400);
    expect(await sb.run({ code: 'print(2)' }, { view: view() })).toMatchObject({ exitCode: 0, stdout: '2\n' });
    expect(loads).toBe(2);
    expect(await sb.run({ code: 'print(3)' }, { view: view() })).toMatchObject({ exitCode: 0, stdout: '3\n' });
    expect(loads).toBe(2);
    // Bytes changed in place (same size): the next call's check refuses them, nothing runs.
    const wasm = readFileSync(join(files, 'python.wasm'));
    wasm[wasm.length - 1] ^= 0xff;
    chmodSync(join(files, 'python.wasm'), 0o600);
    writeFileSync(join(files, 'python.wasm'), wasm);
    await expect(sb.run({ code: 'print(4)' }, { view: view() })).rejects.toMatchObject({
      code: ErrorCodes.BundleVerificationFailed,
      reason: 'file_mismatch',
    });
  }, 120_000);

  it('keeps one descriptor per stdlib file, and one for python.wasm, over 110 runs and closes them on close()', async () => {
    // The stdlib's files, and python.wasm: its data segments are read from it into each instance.
    const count =
      readdirSync(join(files, 'lib'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length + 1;
    await sb.warm();
    const before = readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 110; i++) {
      const r = await sb.run({ code: 'import json' }, { view: view() });
      expect(r.exitCode).toBe(0);
      expect(fdsUnder(files)).toBe(count);
    }
    // A descriptor leaked per run would show as 110 more (a worker replaced after 100 runs may differ by a few).
    expect(readdirSync('/proc/self/fd').length - before).toBeLessThan(20);
    await sb.close();
    expect(fdsUnder(files)).toBe(0);
  }, 300_000);
});
