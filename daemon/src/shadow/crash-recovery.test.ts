// Issue 15 §1, §2, §4, §5 (the shadow's stores): crash recovery never overwrites the person's later
// edit, leaves no temp file, a torn log line never hides the saves after it, a full disk is typed.
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCodes, isShadowboxError } from '../errors.js';
import { workspaceStateDir } from '../state/index.js';
import { noSpaceError } from './fault.js';
import { makeWorkspace, shadowChild } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());
const ALL = { paths: [], hunks: [], force: false };
const read = (p: string) => readFileSync(path.join(ws.root, p), 'utf8');
const temps = () => readdirSync(ws.root, { recursive: true }).filter((n) => String(n).includes('.sbx-'));
const sessionDir = () => path.join(workspaceStateDir(ws.stateDir, ws.root), 'shadow', 'sessions', 's1');
const old = (i: number) => `old ${i}\n`.repeat(50);
const neu = (i: number) => `new ${i}\n`.repeat(50);

async function pendingFiles(n: number) {
  const files: Record<string, string> = {};
  for (let i = 0; i < n; i++) files[`f/${i}.txt`] = old(i);
  ws = makeWorkspace(files, { git: false });
  const svc = ws.open();
  const v = await svc.view('s1', ws.root);
  for (let i = 0; i < n; i++) await v.writeFile(`f/${i}.txt`, neu(i));
  await svc.close();
}

describe('crash recovery', () => {
  it("never overwrites the person's edit made while the daemon was down (kept, reported as a conflict)", async () => {
    await pendingFiles(150);
    const c = shadowChild(
      ws.stateDir,
      `extra.onAcceptStep = (i) => { if (i === 4) { process.stdout.write('paused'); return new Promise(() => {}); } };`,
      `await svc.accept({ sessionId: 's1', workspace: ${JSON.stringify(ws.root)} }, { paths: [], hunks: [], force: false }, 'child');`,
    );
    await c.until('paused');
    await c.kill();
    // Items go in path order: f/0, f/1, f/10, f/100, f/101 were renamed when the kill came.
    const written = Array.from({ length: 150 }, (_, i) => i).filter((i) => read(`f/${i}.txt`) === neu(i));
    expect(written).toEqual([0, 1, 10, 100, 101]);
    // While the daemon is down the person adds a line to a file the accept had already written.
    appendFileSync(path.join(ws.root, 'f/10.txt'), 'my own line\n');
    const svc = ws.open();
    const t = { sessionId: 's1', workspace: ws.root };
    const st = await svc.status(t);
    expect(read('f/10.txt')).toBe(`${neu(10)}my own line\n`);
    for (const i of [0, 1, 100, 101, 2, 149]) expect(read(`f/${i}.txt`)).toBe(old(i));
    const rec = ws.audit.entries.find((e) => e.type === 'shadow.accept.recovered');
    expect(rec?.data).toMatchObject({ outcome: 'rolled_back', conflicts: ['f/10.txt'] });
    // What the recovery at open audited was signed before the call that opened the session answered.
    expect(ws.audit.seals.some((n) => n > ws.audit.entries.indexOf(rec!))).toBe(true);
    expect((rec?.data.paths as string[]).sort()).toEqual(['f/0.txt', 'f/1.txt', 'f/100.txt', 'f/101.txt']);
    expect(st.files).toHaveLength(150);
    expect(st.files.find((f) => f.path === 'f/10.txt')?.stale).toBe(true);
    expect(temps()).toEqual([]);
  });

  it('an accept whose `done` was lost (written without fsync; a power cut) is completed at open without changing a file', async () => {
    await pendingFiles(3);
    let svc = ws.open();
    const t = { sessionId: 's1', workspace: ws.root };
    const r = await svc.accept(t, ALL, 'me');
    await svc.close();
    // What a power cut can leave: the journal's last fsynced state, `applied`, with the layer already saved.
    const file = path.join(sessionDir(), 'accepts', `${r.acceptId}.json`);
    const rec = JSON.parse(readFileSync(file, 'utf8')) as { state: string };
    expect(rec.state).toBe('done');
    writeFileSync(file, JSON.stringify({ ...rec, state: 'applied' }));
    svc = ws.open();
    const st = await svc.status(t);
    expect(st.files).toEqual([]);
    expect(st.undoable).toBe(1);
    for (let i = 0; i < 3; i++) expect(read(`f/${i}.txt`)).toBe(neu(i));
    expect((JSON.parse(readFileSync(file, 'utf8')) as { state: string }).state).toBe('done');
    const recovered = ws.audit.entries.find((e) => e.type === 'shadow.accept.recovered');
    expect(recovered?.data).toMatchObject({ acceptId: r.acceptId, outcome: 'completed' });
    // Undo still takes it back.
    await svc.undo(t, 'me');
    for (let i = 0; i < 3; i++) expect(read(`f/${i}.txt`)).toBe(old(i));
    await svc.close();
  });

  it('a kill while temps are staged leaves none once the session is opened again', async () => {
    await pendingFiles(200);
    const c = shadowChild(
      ws.stateDir,
      `let n = 0; extra.faults = { before(op) { if (op === 'real.stage' && ++n === 120) process.kill(process.pid, 'SIGKILL'); } };`,
      `await svc.accept({ sessionId: 's1', workspace: ${JSON.stringify(ws.root)} }, { paths: [], hunks: [], force: false }, 'child');`,
    );
    expect(await c.exited).toBeNull();
    expect(c.output()).toBe('');
    expect(temps().length).toBe(119);
    const svc = ws.open();
    const st = await svc.status({ sessionId: 's1', workspace: ws.root });
    expect(temps()).toEqual([]);
    expect(st.files).toHaveLength(200);
    for (let i = 0; i < 200; i += 20) expect(read(`f/${i}.txt`)).toBe(old(i));
  });
});

describe('the layer log', () => {
  it('a torn line (a full disk) does not hide the saves written after it', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n', 'b.txt': 'B\n' }, { git: false });
    const t = { sessionId: 's1', workspace: ws.root };
    const svc = ws.open();
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'A2\n');
    await svc.accept(t, { ...ALL, paths: ['a.txt'] }, 'person');
    await v.writeFile('b.txt', 'B2\n');
    // What a short write on a full disk left: part of a line, no newline, and the daemon carried on.
    appendFileSync(path.join(sessionDir(), 'layer.log'), '{"maps":{"entries":{"b.txt":{"kind":"fi');
    await v.writeFile('c.txt', 'C\n');
    await v.writeFile('d.txt', 'D\n');
    await svc.accept(t, { ...ALL, paths: ['b.txt'] }, 'person');
    await svc.close();
    const again = ws.open();
    const st = await again.status(t);
    expect(st.files.map((f) => f.path)).toEqual(['c.txt', 'd.txt']);
    expect(st.undoable).toBe(2);
    expect(Buffer.from(await (await again.view('s1', ws.root)).readFile('d.txt')).toString()).toBe('D\n');
  });

  it('a short write is cut back at once: the file never holds a torn line, and a torn tail from a crash is cut at open', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' }, { git: false });
    let appends = 0;
    const svc = ws.open({
      faults: {
        before: (op, _file, bytes) =>
          op === 'log.append' && ++appends === 2 ? Math.floor((bytes ?? 0) / 2) : undefined,
      },
    });
    const v = await svc.view('s1', ws.root);
    await v.writeFile('one.txt', '1\n');
    const e = await v.writeFile('two.txt', '2\n').catch((x: unknown) => x);
    expect(isShadowboxError(e, ErrorCodes.DiskFull, 'disk_full'), String(e)).toBe(true);
    expect((e as { data: { path: string; freeBytes: unknown } }).data.path).toMatch(/layer\.log$/);
    expect(typeof (e as { data: { freeBytes: unknown } }).data.freeBytes).toBe('number');
    // Nothing of the failed write shows: its layer change was put back.
    expect(await v.stat('two.txt')).toBeNull();
    const log = readFileSync(path.join(sessionDir(), 'layer.log'), 'utf8');
    expect(log.endsWith('\n')).toBe(true);
    for (const line of log.split('\n').filter(Boolean)) expect(() => JSON.parse(line) as unknown).not.toThrow();
    await v.writeFile('three.txt', '3\n');
    await svc.close();
    // A crash in the middle of a write leaves a torn tail: cut at open (logged), the layer as of the line before.
    appendFileSync(path.join(sessionDir(), 'layer.log'), '{"maps":{"entr');
    const lines: string[] = [];
    const logger = {
      info() {},
      debug() {},
      error() {},
      warn: (m: string) => void lines.push(m),
      close: async () => {},
    };
    const again = ws.open({ logger });
    const st = await again.status({ sessionId: 's1', workspace: ws.root });
    // The write that failed for space changed nothing (its layer change was put back); the others are there.
    expect(st.files.map((f) => f.path)).toEqual(['one.txt', 'three.txt']);
    expect(lines.some((l) => l.includes('torn line'))).toBe(true);
    expect(readFileSync(path.join(sessionDir(), 'layer.log'), 'utf8').endsWith('\n')).toBe(true);
  });

  it('a full disk while storing bytes is DiskFull and changes nothing; the next write works once there is space', async () => {
    ws = makeWorkspace({ 'a.txt': 'A\n' }, { git: false });
    let full = true;
    const svc = ws.open({
      faults: {
        before: (op, file) => {
          if (full && op === 'blob.write') throw noSpaceError(file);
        },
      },
    });
    const v = await svc.view('s1', ws.root);
    const e = await v.writeFile('n.txt', 'N\n').catch((x: unknown) => x);
    expect(isShadowboxError(e, ErrorCodes.DiskFull, 'disk_full'), String(e)).toBe(true);
    expect(await v.stat('n.txt')).toBeNull();
    full = false;
    await v.writeFile('n.txt', 'N\n');
    await svc.close();
    const st = await ws.open().status({ sessionId: 's1', workspace: ws.root });
    expect(st.files.map((f) => f.path)).toEqual(['n.txt']);
  });
});
