import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { workspaceStateDir } from '../state/index.js';
import type { ShadowGcOptions } from './service.js';
import { git, makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());

const ALL = { paths: [], hunks: [], force: false };

/** Bytes of every file below dir. */
export function duBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? duBytes(p) : statSync(p).size;
  }
  return n;
}

/** A ~40 KiB text file whose line `turn % 500` says which turn wrote it. */
const version = (turn: number) =>
  Array.from({ length: 500 }, (_, i) =>
    i === turn % 500 ? `turn ${turn} wrote this line ${'x'.repeat(40)}` : `line ${i} ${'-'.repeat(70)}`,
  ).join('\n') + '\n';

const sessionDir = (s = 's1') => path.join(workspaceStateDir(ws.stateDir, ws.root), 'shadow', 'sessions', s);
const datFiles = () => readdirSync(sessionDir()).filter((n) => n.includes('.dat'));

async function cycles(gc: ShadowGcOptions, n: number, from = 1) {
  const svc = ws.open({ gc });
  const v = await svc.view('s1', ws.root);
  const t = { sessionId: 's1', workspace: ws.root };
  for (let i = from; i < from + n; i++) {
    await v.readFile('big.txt');
    await v.writeFile('big.txt', version(i));
    await svc.checkpoint('s1', ws.root, `t${i}`, `turn ${i}`);
    const r = await svc.accept(t, ALL, 'test');
    expect(r.conflicts).toEqual([]);
  }
  return { svc, t, v };
}

describe('layer garbage collection', () => {
  it('200 write/checkpoint/accept cycles on one file keep the state dir bounded; history and undo intact', async () => {
    ws = makeWorkspace({ 'big.txt': version(0) });
    const { svc, t } = await cycles({ minGarbageBytes: 1024 * 1024, undoDepth: 10, rewindDepth: 10 }, 200);
    expect(readFileSync(path.join(ws.root, 'big.txt'), 'utf8')).toBe(version(200));
    expect((await svc.status(t)).undoable).toBe(10);
    // Undo restores exactly the bytes before the last accept, after many compactions.
    await svc.undo(t, 'test');
    expect(readFileSync(path.join(ws.root, 'big.txt'), 'utf8')).toBe(version(199));
    await svc.close();
    const state = duBytes(ws.stateDir);
    // Without GC: ~200 versions × 41 KiB in blobs.dat alone (≥ 8 MiB), plus 200 packs.
    expect(state).toBeLessThan(4 * 1024 * 1024);
    expect(datFiles()).toHaveLength(1);
    const repo = path.join(workspaceStateDir(ws.stateDir, ws.root), 'shadow.git');
    git(repo, '--git-dir=.', 'fsck', '--strict', '--no-dangling');
    expect(git(repo, '--git-dir=.', 'show', 'refs/shadowbox/sessions/s1~150:big.txt')).toBe(version(50));
    // A restart sees everything: the pending (undone) change and the rest of the undo stack.
    const again = ws.open();
    const st = await again.status(t);
    expect(st.files.map((f) => f.path)).toEqual(['big.txt']);
    expect(st.undoable).toBe(9);
    expect(st.commits.map((c) => c.summary)).toEqual(Array.from({ length: 200 }, (_, i) => `turn ${i + 1}`));
    expect((await again.file(t, 'big.txt')).shadow).toBe(version(200));
    await again.undo(t, 'test');
    expect(readFileSync(path.join(ws.root, 'big.txt'), 'utf8')).toBe(version(198));
  }, 120_000);

  it('compaction after every accept: undo still restores exact bytes (binary too), and a restart reads every kept object', async () => {
    const bin = (i: number) => Buffer.from(Array.from({ length: 3000 }, (_, j) => (j * 7 + i) % 256));
    ws = makeWorkspace({ 'big.txt': version(0), 'b.bin': bin(0) });
    const gc = { minGarbageBytes: 1, garbageRatio: 0 };
    const svc = ws.open({ gc });
    const v = await svc.view('s1', ws.root);
    const t = { sessionId: 's1', workspace: ws.root };
    for (let i = 1; i <= 5; i++) {
      await v.writeFile('big.txt', version(i));
      await v.writeFile('b.bin', bin(i));
      await svc.accept(t, ALL, 'test');
    }
    const before = datFiles();
    await v.writeFile('big.txt', version(6)); // pending, never accepted
    await svc.undo(t, 'test'); // compacts again
    expect(datFiles()).toHaveLength(1);
    expect(datFiles()).not.toEqual(before);
    expect(readFileSync(path.join(ws.root, 'b.bin')).equals(bin(4))).toBe(true);
    expect(readFileSync(path.join(ws.root, 'big.txt'), 'utf8')).toBe(version(4));
    await svc.close();
    const again = ws.open({ gc });
    expect((await again.file(t, 'big.txt')).shadow).toBe(version(6));
    await again.undo(t, 'test');
    expect(readFileSync(path.join(ws.root, 'b.bin')).equals(bin(3))).toBe(true);
    expect(readFileSync(path.join(ws.root, 'big.txt'), 'utf8')).toBe(version(3));
    const d = await again.diff(t);
    expect(d.files.map((f) => f.path).sort()).toEqual(['b.bin', 'big.txt']);
    const r = await again.accept(t, ALL, 'test');
    expect(r.conflicts).toEqual([]);
    expect(readFileSync(path.join(ws.root, 'b.bin')).equals(bin(5))).toBe(true);
    expect(readFileSync(path.join(ws.root, 'big.txt'), 'utf8')).toBe(version(6));
  });

  for (const step of ['dat_written', 'manifest_written'] as const) {
    it(`a crash after ${step} leaves a working layer (old or new object file, the other removed on open)`, async () => {
      ws = makeWorkspace({ 'big.txt': version(0) });
      const t = { sessionId: 's1', workspace: ws.root };
      {
        const { svc, v } = await cycles({ minGarbageBytes: Number.MAX_SAFE_INTEGER }, 4);
        await v.writeFile('big.txt', version(5));
        await v.writeFile('new.txt', 'pending\n');
        await svc.close();
      }
      let crashed = 0;
      const svc = ws.open({
        gc: {
          minGarbageBytes: 1,
          garbageRatio: 0,
          undoDepth: 2,
          rewindDepth: 1,
          onCompactStep: (s) => {
            if (s === step) {
              crashed++;
              throw new Error(`simulated crash after ${s}`);
            }
          },
        },
      });
      await svc.status(t); // opening the session compacts (and "crashes")
      expect(crashed).toBe(1);
      expect(datFiles()).toHaveLength(2); // old + new: the crash left both
      // A torn leftover must not matter either.
      const stray = datFiles().find((n) => n !== 'blobs.dat');
      if (step === 'dat_written') writeFileSync(path.join(sessionDir(), stray!), Buffer.from('torn'));
      // "Restart": the process state is gone, a new service reads what is on disk.
      await svc.close();
      const again = ws.open();
      const st = await again.status(t);
      expect(datFiles()).toHaveLength(1);
      expect(st.files.map((f) => f.path).sort()).toEqual(['big.txt', 'new.txt']);
      expect(st.undoable).toBe(2);
      expect((await again.file(t, 'big.txt')).shadow).toBe(version(5));
      await again.undo(t, 'test');
      expect(readFileSync(path.join(ws.root, 'big.txt'), 'utf8')).toBe(version(3));
      await again.undo(t, 'test');
      expect(readFileSync(path.join(ws.root, 'big.txt'), 'utf8')).toBe(version(2));
      const r = await again.accept(t, ALL, 'test');
      expect(r.conflicts).toEqual([]);
      expect(readFileSync(path.join(ws.root, 'big.txt'), 'utf8')).toBe(version(5));
      expect(readFileSync(path.join(ws.root, 'new.txt'), 'utf8')).toBe('pending\n');
    });
  }
});
