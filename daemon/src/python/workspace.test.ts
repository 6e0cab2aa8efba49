// The guest's /workspace is served lazily from the view: a run touches only what the program
// touches, so a huge working directory costs nothing, and entries vanishing mid-run do not fail it.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { DirEntry, EntryStat } from '../shadow/view.js';
import { createPython, type Python } from './index.js';
import { findBuiltPythonBundle, loadBundleDir, MemoryLayerView } from './test-support.js';

const bundleDir = findBuiltPythonBundle();

/** Counts what the runner asks of the view; `ghosts` are listed but gone when read or listed. */
class CountingView extends MemoryLayerView {
  reads: string[] = [];
  lists: string[] = [];
  ghosts = new Map<string, 'file' | 'dir'>();
  override async readFile(p: string): Promise<Uint8Array> {
    this.reads.push(p);
    if (this.ghosts.has(p))
      throw new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', `no such file or directory: ${p}`);
    return super.readFile(p);
  }
  override async readdir(p: string): Promise<DirEntry[]> {
    this.lists.push(p);
    if (this.ghosts.has(p))
      throw new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', `no such file or directory: ${p}`);
    const out = await super.readdir(p);
    if (p === '') for (const [name, type] of this.ghosts) out.push({ name, type });
    return out;
  }
  override async stat(p: string): Promise<EntryStat | null> {
    const g = this.ghosts.get(p);
    if (g) return { type: g, size: g === 'file' ? 5 : 0, mode: 0o644, mtimeMs: 0 };
    return super.stat(p);
  }
}

describe.skipIf(!bundleDir)('python /workspace served lazily', () => {
  let ws: string;
  let py: Python;

  beforeAll(async () => {
    ws = await mkdtemp(join(tmpdir(), 'sbpy-lazy-'));
    // 40 folders × 100 files, plus a node_modules tree: the old per-call snapshot copied all of it.
    for (let d = 0; d < 40; d++) {
      await mkdir(join(ws, `d${d}`));
      await Promise.all(
        Array.from({ length: 100 }, (_, f) => writeFile(join(ws, `d${d}`, `f${f}.txt`), `${d}:${f}\n`.repeat(50))),
      );
    }
    await mkdir(join(ws, 'node_modules', 'pkg'), { recursive: true });
    await writeFile(join(ws, 'node_modules', 'pkg', 'index.js'), 'module.exports = 1;\n');
    await writeFile(join(ws, 'keep.txt'), 'keep\n');
    await writeFile(join(ws, 'drop.txt'), 'drop\n');
    py = createPython({ loadBundle: () => loadBundleDir(bundleDir as string) });
    await py.warm();
  }, 60_000);
  afterAll(async () => {
    await py?.close();
    await rm(ws, { recursive: true, force: true });
  });

  it('reads nothing of a 4 000-file workspace for print(1+1)', async () => {
    const view = new CountingView(ws);
    const r = await py.run({ code: 'print(1+1)' }, { view });
    expect(r).toMatchObject({ exitCode: 0, stdout: '2\n', changed: [] });
    expect(view.reads).toEqual([]);
    expect(view.lists.length).toBeLessThanOrEqual(1);
  });

  it('reads only the file the program opens, and lists only the folders it walks', async () => {
    const view = new CountingView(ws);
    const r = await py.run(
      { code: 'print(open("d7/f5.txt").read().splitlines()[0], len(__import__("os").listdir("d3")))' },
      { view },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('7:5 100\n');
    expect(view.reads).toEqual(['d7/f5.txt']);
    expect(view.lists.sort()).toEqual(['', 'd3', 'd7']);
  });

  it('sees node_modules (nothing is skipped any more) and walks the whole tree on demand', async () => {
    const view = new CountingView(ws);
    const r = await py.run(
      {
        code: 'import os\nn = sum(len(fs) for _, _, fs in os.walk("."))\nprint(n, open("node_modules/pkg/index.js").read().strip())',
      },
      { view },
    );
    expect(r.stdout).toBe(`${40 * 100 + 3} module.exports = 1;\n`);
    expect(view.reads).toEqual(['node_modules/pkg/index.js']);
  });

  it('reports writes, rewrites and deletions as changed and applies them to the view only', async () => {
    const view = new CountingView(ws);
    const r = await py.run(
      {
        code: 'import os\nopen("d1/f1.txt", "w").write("new")\nos.makedirs("fresh")\nopen("fresh/x.txt", "w").write("x")\nos.remove("drop.txt")\nprint(open("keep.txt").read().strip())',
      },
      { view },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('keep\n');
    expect(r.changed.sort()).toEqual(['d1/f1.txt', 'drop.txt', 'fresh/x.txt']);
    expect(Buffer.from(view.layer.get('d1/f1.txt') ?? []).toString()).toBe('new');
    expect(view.layer.get('drop.txt')).toBeNull();
    // A file only read is not reported.
    expect(r.changed).not.toContain('keep.txt');
  });

  it('does not fail the run when listed entries vanish before the guest reads them', async () => {
    const view = new CountingView(ws);
    view.ghosts.set('ghost.txt', 'file');
    view.ghosts.set('ghostdir', 'dir');
    const r = await py.run(
      {
        code: [
          'import os',
          'names = os.listdir(".")',
          'print("ghost.txt" in names, "ghostdir" in names)',
          'try:\n    print(repr(open("ghost.txt").read()))\nexcept FileNotFoundError:\n    print("ENOENT")',
          'try:\n    print(os.listdir("ghostdir"))\nexcept FileNotFoundError:\n    print("ENOENT")',
        ].join('\n'),
      },
      { view },
    );
    expect(r.error).toBeNull();
    expect(r.exitCode).toBe(0);
    // The WASI worker fails the open: FileNotFoundError for both, never an empty file or folder.
    expect(r.stdout).toBe('True True\nENOENT\nENOENT\n');
    expect(r.changed).toEqual([]);
  });

  it('runs from a directory whose files come and go (like /tmp) without reading them', async () => {
    const busy = await mkdtemp(join(tmpdir(), 'sbpy-busy-'));
    let stop = false;
    const churn = (async () => {
      for (let i = 0; !stop; i++) {
        const d = join(busy, `sbx-${i % 20}`);
        await mkdir(d, { recursive: true });
        await writeFile(join(d, 'f'), 'x');
        await rm(join(busy, `sbx-${(i + 10) % 20}`), { recursive: true, force: true });
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (let i = 0; i < 5; i++) {
        const r = await py.run(
          { code: 'import os\nprint(1+1, len(os.listdir(".")) >= 0)' },
          { view: new MemoryLayerView(busy) },
        );
        expect(r.error).toBeNull();
        expect(r.stdout).toBe('2 True\n');
      }
    } finally {
      stop = true;
      await churn;
      await rm(busy, { recursive: true, force: true });
    }
  });
});

describe('python warm-up', () => {
  it('resolves false (never rejects) when the bundle cannot be loaded, and a later call reports the error', async () => {
    let loads = 0;
    const py = createPython({
      loadBundle: async () => {
        loads++;
        throw new ShadowboxError(ErrorCodes.BundleNotFound, 'not_installed', 'bundle python is not installed');
      },
    });
    try {
      expect(await py.warm()).toBe(false);
      await expect(py.run({ code: 'print(1)' }, { view: new MemoryLayerView(tmpdir()) })).rejects.toMatchObject({
        reason: 'not_installed',
      });
      expect(loads).toBe(2);
    } finally {
      await py.close();
    }
  });
});
