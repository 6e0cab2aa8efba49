// POSIX behaviour the sandboxed interpreter gets from shadowbox's WASI host, each a defect of the
// shim it replaced: file times, utime, hard links, mkdir/open errors, absolute paths outside the
// mounts, listing /, sleeps, output kept at a timeout, a time limit above the cap refused.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createPython, type Python, type PythonRunInput } from './index.js';
import { findBuiltPythonBundle, loadBundleDir, MemoryLayerView } from './test-support.js';

const bundleDir = findBuiltPythonBundle();

describe.skipIf(!bundleDir)('python: POSIX behaviour in the sandbox', () => {
  let ws: string;
  let py: Python;
  beforeAll(async () => {
    ws = await mkdtemp(join(tmpdir(), 'sbpy-posix-'));
    py = createPython({ loadBundle: () => loadBundleDir(bundleDir as string), limits: { maxTimeoutMs: 60_000 } });
  });
  afterAll(async () => {
    await py?.close();
    await rm(ws, { recursive: true, force: true });
  });
  const run = (input: PythonRunInput) => py.run(input, { view: new MemoryLayerView(ws) });
  const lines = (...l: string[]) => ({ code: l.join('\n') });

  it('gives new files the current time, and os.utime sets both times', async () => {
    const r = await run(
      lines(
        'import os, time, zipfile',
        'open("f", "w").close()',
        'print(abs(os.stat("f").st_mtime - time.time()) < 3600)',
        'os.utime("f", (1, 2)); st = os.stat("f"); print(st.st_atime, st.st_mtime)',
        'os.utime("f"); print(abs(os.stat("f").st_mtime - time.time()) < 3600)',
        'with zipfile.ZipFile("/tmp/z.zip", "w") as z: z.write("f")',
        'print("zipped")',
      ),
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('True\n1.0 2.0\nTrue\nzipped\n');
  });

  it('counts hard links and raises FileExistsError / IsADirectoryError as CPython does', async () => {
    const r = await run(
      lines(
        'import os',
        'open("a", "w").close(); os.link("a", "b"); print(os.stat("a").st_nlink)',
        'os.mkdir("d")',
        'for f in (lambda: os.mkdir("d"), lambda: os.mkdir("a"), lambda: open("d/missing/", "wb")):',
        '    try:\n        f()\n    except OSError as e:\n        print(type(e).__name__)',
        'print(os.path.exists("d/missing"))',
      ),
    );
    expect(r.stdout).toBe('2\nFileExistsError\nFileExistsError\nIsADirectoryError\nFalse\n');
  });

  it('refuses a hard link to a read-only stdlib file (EXDEV, as across mounts): nothing lands in the workspace', async () => {
    const view = new MemoryLayerView(ws);
    const r = await py.run(
      lines(
        'import errno, os',
        'try:\n    os.link("/usr/local/lib/python311.zip", "z")\nexcept OSError as e:\n    print(e.errno == errno.EXDEV)',
        'print(os.path.exists("z"))',
      ),
      { view },
    );
    expect(r.stdout).toBe('True\nFalse\n');
    expect(r.changed).toEqual([]);
    expect(view.layer.size).toBe(0);
  });

  it('answers absolute paths outside every mount with ENOENT and lists /', async () => {
    const r = await run(
      lines(
        'import os, pathlib',
        'print(pathlib.Path("/xyzzy").exists(), sorted(os.listdir("/")))',
        'try:\n    open("/nope/x")\nexcept FileNotFoundError:\n    print("ENOENT")',
      ),
    );
    expect(r.stdout).toBe("False ['tmp', 'usr', 'workspace']\nENOENT\n");
  });

  it('sleeps for the time asked, not for the clock value plus it', async () => {
    // The old shim slept (monotonic clock + d): with a clock in the thousands of seconds this never returns in time.
    const r = await run({
      ...lines('import time', 'time.sleep(0.01)', 'time.sleep(0)', 'print("woke")'),
      timeoutMs: 20_000,
    });
    expect(r.timedOut).toBe(false);
    expect(r.stdout).toBe('woke\n');
  });

  it('keeps the output written before a timeout', async () => {
    // The time limit runs out once "before" has been printed (its timer is faked and moved on then), not after a
    // fixed 300 ms that a loaded machine can spend starting the interpreter before anything is printed.
    let printed!: () => void;
    const before = new Promise<void>((resolve) => (printed = resolve));
    let live = '';
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const running = py.run(
        { ...lines('print("before", flush=True)', 'while True: pass'), timeoutMs: 60_000 },
        {
          view: new MemoryLayerView(ws),
          onOutput: (stream, text) => {
            if (stream === 'stdout' && (live += text).includes('before\n')) printed();
          },
        },
      );
      await before;
      vi.advanceTimersByTime(60_000);
      vi.useRealTimers();
      const r = await running;
      expect(r.timedOut).toBe(true);
      expect(r.stdout).toBe('before\n');
    } finally {
      vi.useRealTimers();
    }
  });

  it('refuses a time limit above the cap instead of cutting it', async () => {
    await expect(run({ code: 'pass', timeoutMs: 61_000 })).rejects.toMatchObject({
      data: { reason: 'timeout_above_limit' },
    });
  });

  it('runs modules with -m and shows source lines in tracebacks of the standard library', async () => {
    const m = await run({ module: 'json.tool', stdin: '{"a": 1}' });
    expect(m.stdout).toBe('{\n    "a": 1\n}\n');
    const r = await run(lines('import json', 'json.loads("{")'));
    // The standard library's own source line under its frame (the bundle ships sources beside the bytecode).
    expect(r.stderr).toMatch(/json\/__init__\.py", line \d+, in loads\n +return _default_decoder\.decode\(s\)/);
  });
});
