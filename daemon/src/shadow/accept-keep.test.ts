// Issue 20 (accept ≤ 2× `git apply`): a file an accept replaces keeps a second name — a temp the `pending`
// journal names — through the rename over it, so ext4 frees its blocks when that temp goes after the answer,
// not inside the rename. Nothing of it may show afterwards, a failed link changes nothing, and a crash
// in between is covered by recovery (crash-recovery.test.ts: no temp left after a kill mid-accept).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { workspaceStateDir } from '../state/index.js';
import type { AcceptRecord } from './journal.js';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());
const ALL = { paths: [], hunks: [], force: false };
const t = () => ({ sessionId: 's1', workspace: ws.root });
const read = (p: string) => readFileSync(path.join(ws.root, p), 'utf8');
const temps = () =>
  readdirSync(ws.root, { recursive: true })
    .map(String)
    .filter((n) => n.includes('.sbx-'));
const journals = (): AcceptRecord[] => {
  const dir = path.join(workspaceStateDir(ws.stateDir, ws.root), 'shadow', 'sessions', 's1', 'accepts');
  return readdirSync(dir).map((n) => JSON.parse(readFileSync(path.join(dir, n), 'utf8')) as AcceptRecord);
};

describe('accept keeps a replaced file under a journaled temp until after the answer', () => {
  it('the old bytes sit under a temp the journal names while the accept renames; none is left afterwards', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n', 'sub/b.txt': 'old b\n' }, { git: false });
    const seen: { step: number; temps: Record<string, string>; journaled: string[] }[] = [];
    const svc = ws.open({
      onAcceptStep: (step) => {
        const now: Record<string, string> = {};
        for (const p of temps()) now[p] = read(p);
        seen.push({ step, temps: now, journaled: journals()[0]?.temps ?? [] });
      },
    });
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'new a\n');
    await v.writeFile('sub/b.txt', 'new b\n');
    await v.writeFile('c.txt', 'new c\n');
    const r = await svc.accept(t(), ALL, 'me');
    expect(r.applied.map((a) => a.path).sort()).toEqual(['a.txt', 'c.txt', 'sub/b.txt']);
    // Right after a.txt's rename (step 0): its old bytes under `.a.txt.sbx-<hex>.tmp`, named by the pending record.
    const first = seen[0];
    const kept = Object.entries(first.temps).filter(([p]) => /^\.a\.txt\.sbx-[0-9a-f]+\.tmp$/.test(p));
    expect(kept).toHaveLength(1);
    expect(kept[0][1]).toBe('old a\n');
    expect(first.journaled).toContain(kept[0][0]);
    // A new file (c.txt) has nothing to keep.
    expect(Object.keys(seen.at(-1)!.temps).some((p) => p.startsWith('.c.txt.'))).toBe(false);
    // The session's next call waits for the work after the answer: the temps are gone, the journal says done.
    await svc.status(t());
    expect(temps()).toEqual([]);
    expect(journals().map((j) => j.state)).toEqual(['done']);
    expect([read('a.txt'), read('sub/b.txt'), read('c.txt')]).toEqual(['new a\n', 'new b\n', 'new c\n']);
    // Undo puts the exact old bytes back (the after state it checks against is the staged file's own).
    await svc.undo(t(), 'me');
    expect([read('a.txt'), read('sub/b.txt')]).toEqual(['old a\n', 'old b\n']);
    expect(temps()).toEqual([]);
  });

  it('a link that cannot be made (EPERM, a full disk) changes nothing: the rename replaces the file as before', async () => {
    ws = makeWorkspace({ 'a.txt': 'old a\n' }, { git: false });
    let refused = 0;
    const svc = ws.open({
      faults: {
        before: (op) => {
          if (op !== 'real.link') return;
          refused++;
          throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
        },
      },
    });
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'new a\n');
    await svc.accept(t(), ALL, 'me');
    await svc.status(t());
    expect(refused).toBe(1);
    expect(read('a.txt')).toBe('new a\n');
    expect(temps()).toEqual([]);
    expect(journals().map((j) => j.state)).toEqual(['done']);
    await svc.undo(t(), 'me');
    expect(read('a.txt')).toBe('old a\n');
  });
});
