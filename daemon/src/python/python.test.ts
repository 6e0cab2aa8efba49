import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRUNCATION_MARKER } from '../wasi/index.js';
import { createPython, type Python, type PythonRunInput } from './index.js';
import { findBuiltPythonBundle, loadBundleDir, MemoryLayerView } from './test-support.js';

const bundleDir = findBuiltPythonBundle();
if (!bundleDir)
  console.warn('python tests skipped: no built python bundle (run `node bundles/scripts/build.mjs python`, ~2.5 min)');

describe.skipIf(!bundleDir)('python in the sandbox', () => {
  let ws: string;
  let outside: string;
  let py: Python;
  let view: MemoryLayerView;
  const fetched: string[] = [];

  beforeAll(async () => {
    ws = await mkdtemp(join(tmpdir(), 'sbpy-ws-'));
    outside = await mkdtemp(join(tmpdir(), 'sbpy-out-'));
    await writeFile(join(outside, 'secret.txt'), 'top secret');
    await writeFile(join(ws, 'data.csv'), 'name,qty\napple,3\npear,5\napple,4\n');
    await writeFile(join(ws, 'cfg.json'), JSON.stringify({ a: [1, 2, 3] }));
    await symlink(join(outside, 'secret.txt'), join(ws, 'link-out.txt'));
    py = createPython({
      loadBundle: () => loadBundleDir(bundleDir as string),
      limits: { memoryMb: 256, maxOutputBytes: 1024 * 1024 },
      netFetch: async (req) => {
        fetched.push(req.url);
        if (!req.url.startsWith('https://allowed.example/')) {
          const { ShadowboxError, ErrorCodes } = await import('../errors.js');
          throw new ShadowboxError(
            ErrorCodes.NetFetchRefused,
            'host_not_allowed',
            `host not allowed: ${new URL(req.url).host}`,
          );
        }
        return {
          url: req.url,
          status: 200,
          headers: [['content-type', 'application/json']],
          body: Buffer.from('{"ok": true}'),
        };
      },
    });
    await py.warm();
  });
  afterAll(async () => {
    await py?.close();
    await rm(ws, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  const run = (input: PythonRunInput) => {
    view = new MemoryLayerView(ws);
    return py.run(input, { view });
  };

  it('runs arithmetic and prints', async () => {
    const r = await run({ code: 'print(1+1)' });
    expect(r).toMatchObject({ exitCode: 0, stdout: '2\n', stderr: '', timedOut: false, changed: [] });
  });

  it('processes a workspace CSV and JSON file', async () => {
    const r = await run({
      code: 'import csv, json, collections\nc = collections.Counter()\nfor row in csv.DictReader(open("data.csv")): c[row["name"]] += int(row["qty"])\nprint(json.dumps(dict(c), sort_keys=True), sum(json.load(open("cfg.json"))["a"]))',
    });
    expect(r.stdout).toBe('{"apple": 7, "pear": 5} 6\n');
  });

  it('writes land in the shadow layer, not in the real workspace', async () => {
    const r = await run({
      code: 'import pathlib\npathlib.Path("out/report.txt").parent.mkdir()\npathlib.Path("out/report.txt").write_text("hi")\nprint("ok")',
    });
    expect(r.exitCode).toBe(0);
    expect(r.changed).toEqual(['out/report.txt']);
    expect(Buffer.from(view.layer.get('out/report.txt') ?? []).toString()).toBe('hi');
    await expect(readFile(join(ws, 'out', 'report.txt'))).rejects.toThrow();
  });

  it('runs a workspace file with args and reads stdin', async () => {
    await writeFile(join(ws, 'echo.py'), 'import sys\nprint(sys.argv[1:], sys.stdin.read().upper())\n');
    const r = await run({ file: 'echo.py', args: ['a', 'b'], stdin: 'hello' });
    expect(r.stdout).toBe("['a', 'b'] HELLO\n");
  });

  it('reports exit codes and tracebacks', async () => {
    expect((await run({ code: 'import sys; sys.exit(3)' })).exitCode).toBe(3);
    const r = await run({ code: 'def f():\n    1/0\nf()' });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain('Traceback (most recent call last):');
    expect(r.stderr).toContain('ZeroDivisionError: division by zero');
    expect(r.stderr).not.toContain('_shadowbox_boot');
  });

  it('cannot read host files, climb out with .., or follow a symlink out', async () => {
    const r = await run({
      code: [
        'import os',
        'for p in ["/etc/passwd", "../secret.txt", "/workspace/../etc/passwd", "link-out.txt"]:',
        '    try:',
        '        open(p).read(); print("READ", p)',
        '    except OSError as e:',
        '        print("denied", p, type(e).__name__)',
        'print(sorted(os.listdir("/")))',
      ].join('\n'),
    });
    expect(r.stdout).not.toContain('READ');
    expect(r.stdout.match(/denied/g)).toHaveLength(4);
    expect(r.stdout).not.toContain('top secret');
  });

  it('has no processes or sockets, and explains missing modules', async () => {
    const r = await run({
      code: [
        'import os',
        'try:\n    os.system("ls")\nexcept OSError as e:\n    print("system:", e)',
        'try:\n    import socket; socket.socket().connect(("1.1.1.1", 80)); print("CONNECTED")\nexcept Exception as e:\n    print("socket:", type(e).__name__)',
        'import subprocess\ntry:\n    subprocess.run(["ls"])\nexcept OSError as e:\n    print("subprocess:", e)',
        'try:\n    import ctypes\nexcept ImportError as e:\n    print("ctypes:", e)',
      ].join('\n'),
    });
    expect(r.stdout).toContain('system: [Errno 52] os.system is not available in the sandbox');
    expect(r.stdout).not.toContain('CONNECTED');
    expect(r.stdout).toContain('subprocess: [Errno 52] subprocess is not available in the sandbox');
    expect(r.stdout).toContain("ctypes: module 'ctypes' is not available in the sandbox");
    const missing = await run({ code: 'import numpy' });
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain("ModuleNotFoundError: module 'numpy' is not available in the sandbox");
  });

  it('stops an endless loop at the time limit, and the next call still works', async () => {
    const r = await run({ code: 'while True: pass', timeoutMs: 500 });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect((await run({ code: 'print("after")' })).stdout).toBe('after\n');
  });

  it('runs calls concurrently, each in its own instance', async () => {
    const rs = await Promise.all([1, 2, 3].map((n) => run({ code: `print(sum(range(${n} * 1000)))` })));
    expect(rs.map((r) => r.stdout)).toEqual(['499500\n', '1999000\n', '4498500\n']);
  });

  it('refuses a 4 GB allocation and turns one over the memory limit into MemoryError', async () => {
    // wasm32: 4 GiB does not even fit an index; 1 GiB is over the 256 MiB test limit.
    const r = await run({
      code: 'for n in (4 * 1024**3, 1024**3):\n    try:\n        b = bytearray(n); print("ALLOCATED", n)\n    except (MemoryError, OverflowError) as e:\n        print(type(e).__name__)\nprint(len(bytearray(50 * 1024**2)))',
    });
    expect(r.stdout).toBe(`OverflowError\nMemoryError\n${50 * 1024 ** 2}\n`);
  });

  it('stops a program printing 100 MB at the output limit', async () => {
    const r = await run({ code: 'import sys\nfor _ in range(100): sys.stdout.write("x" * (1024 * 1024))' });
    expect(r.error?.reason).toBe('output_limit');
    expect(r.stdout.length).toBeLessThanOrEqual(1024 * 1024 + TRUNCATION_MARKER.length);
    expect(r.stdout.endsWith(TRUNCATION_MARKER)).toBe(true);
  });

  it('fetches through netFetch when allowed and raises when refused', async () => {
    const r = await run({
      code: [
        'import shadowbox, urllib.request',
        'print(shadowbox.fetch("https://allowed.example/a").json())',
        'print(urllib.request.urlopen("https://allowed.example/b").read())',
        'try:\n    shadowbox.fetch("https://evil.example/")\nexcept shadowbox.FetchError as e:\n    print("refused", e.reason)',
      ].join('\n'),
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("{'ok': True}\nb'{\"ok\": true}'\nrefused host_not_allowed\n");
    expect(fetched).toEqual(['https://allowed.example/a', 'https://allowed.example/b', 'https://evil.example/']);
  });

  it('never leaks state between calls, also to a call that gets the memory of the one before (zeroed)', async () => {
    await run({
      code: [
        'import json, builtins, os, sys',
        'builtins.LEAK = 1; json.LEAK = 2; sys.modules["leak_mod"] = json; os.environ["LEAK"] = "1"',
        'SECRET = bytearray(b"\\xa5" * 65536); sys.path.append("/leak")',
        'open("/tmp/x", "w").write("x")',
      ].join('\n'),
    });
    const r = await run({
      code: [
        'import json, builtins, os, sys',
        'print(hasattr(builtins, "LEAK"), hasattr(json, "LEAK"), "leak_mod" in sys.modules, "LEAK" in os.environ)',
        'print("SECRET" in globals(), "/leak" in sys.path, os.path.exists("/tmp/x"))',
      ].join('\n'),
    });
    expect(r.memoryReused).toBe(true);
    expect(r.stdout).toBe('False False False False\nFalse False False\n');
  });

  it('starts a call after one that grew the memory with a new memory of the initial size', async () => {
    const grew = await run({ code: 'b = bytearray(64 * 1024**2); print(len(b))' });
    expect(grew.stdout).toBe(`${64 * 1024 ** 2}\n`);
    const next = await run({ code: 'print(1+1)' });
    expect(next.memoryReused).toBeFalsy();
    expect(next.stdout).toBe('2\n');
    // The memory limit holds for the new memory as for every other: 1 GiB is over the 256 MiB test limit.
    const r = await run({ code: 'try:\n    bytearray(1024**3)\nexcept MemoryError:\n    print("MemoryError")' });
    expect(r.memoryReused).toBe(true);
    expect(r.stdout).toBe('MemoryError\n');
  });
});
