import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../state/index.js';
import { ReadMemory } from './read-memory.js';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace> | undefined;
afterEach(async () => {
  await ws?.cleanup();
  ws = undefined;
});

/** Every file under the state dir with its size (what a read must not change). */
function stateFiles(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out[path.relative(dir, p)] = statSync(p).size;
    }
  };
  try {
    walk(dir);
  } catch {
    // no state dir yet
  }
  return out;
}

describe('reads never copy the person’s files into the layer', () => {
  it('reading 200 files leaves the state dir as it was; the first write stores one base', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 200; i++) files[`src/f${i}.ts`] = `export const v = ${i};\n`.repeat(50);
    ws = makeWorkspace(files);
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('other.txt', 'warm the layer\n'); // the layer exists on disk
    const before = stateFiles(ws.stateDir);
    for (let i = 0; i < 200; i++) await v.readFile(`src/f${i}.ts`);
    expect(stateFiles(ws.stateDir)).toEqual(before);
    await v.writeFile('src/f7.ts', 'agent\n');
    const t = { sessionId: 's1', workspace: ws.root };
    expect((await svc.diff(t)).files.map((f) => f.path).sort()).toEqual(['other.txt', 'src/f7.ts']);
  });

  it('a file too big to keep in memory that the person changed after the read: based on what it is now, with a warning', async () => {
    const big = 'x'.repeat(5 * 1024 * 1024) + '\n';
    ws = makeWorkspace({ 'big.txt': big });
    const warnings: string[] = [];
    const logger: Logger = {
      info() {},
      warn: (m) => void warnings.push(m),
      error() {},
      debug() {},
      close: async () => {},
    };
    const svc = ws.open({ logger });
    const v = await svc.view('s1', ws.root);
    await v.readFile('big.txt');
    writeFileSync(path.join(ws.root, 'big.txt'), `${big}person\n`);
    await v.writeFile('big.txt', `${big}agent\n`);
    expect(warnings.some((w) => w.includes('big.txt changed after the agent read it'))).toBe(true);
    // Based on the person's version: the file is not stale, and the review compares with what is on disk.
    const st = await svc.status({ sessionId: 's1', workspace: ws.root });
    expect(st.files.map((f) => [f.path, f.stale])).toEqual([['big.txt', false]]);
  });
});

describe('ReadMemory', () => {
  it('keeps bytes up to its bound, dropping the least recently read first; records stay', () => {
    const m = new ReadMemory();
    const base = (oid: string) => ({ type: 'file' as const, oid, mode: 0o644, size: 0, mtimeMs: 0, ino: 0 });
    const mib = Buffer.alloc(1024 * 1024, 1);
    for (let i = 0; i < 40; i++) m.remember(`f${i}`, base(`o${i}`), mib);
    expect(m.heldBytes).toBe(32 * 1024 * 1024);
    expect(m.get('f0')?.bytes).toBeUndefined();
    expect(m.get('f0')?.base.oid).toBe('o0');
    expect(m.get('f39')?.bytes?.byteLength).toBe(1024 * 1024);
    m.remember('big', base('b'), Buffer.alloc(5 * 1024 * 1024));
    expect(m.get('big')?.bytes).toBeUndefined();
    expect(m.has('f3', 'o3')).toBe(true);
  });
});
