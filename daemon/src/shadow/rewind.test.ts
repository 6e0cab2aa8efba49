import { afterEach, describe, expect, it } from 'vitest';
import { isShadowboxError } from '../errors.js';
import { makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());

describe('shadow rewind window', () => {
  it('a rewind within the window restores a path last changed before it (the floor); past it, rewind_too_far', async () => {
    ws = makeWorkspace({ 'a.txt': 'a0\n', 'b.txt': 'b0\n' });
    // Depth 2: the window is trimmed back to 2 once more than 4 checkpoints hold entries.
    const svc = ws.open({ gc: { rewindDepth: 2 } });
    const v = await svc.view('s1', ws.root);
    const t = { sessionId: 's1', workspace: ws.root };
    await v.writeFile('a.txt', 'a1\n');
    await svc.checkpoint('s1', ws.root, 't1', 'turn 1');
    for (let i = 2; i <= 6; i++) {
      await v.writeFile('b.txt', `b${i}\n`);
      await svc.checkpoint('s1', ws.root, `t${i}`, `turn ${i}`);
    }
    await v.writeFile('a.txt', 'a7\n');
    await svc.checkpoint('s1', ws.root, 't7', 'turn 7');
    const turns = ['t1', 't2', 't3', 't4', 't5', 't6', 't7'];
    // t1..t3 left the window when t5 was checkpointed: rewinding t7 needs what t1 wrote to a.txt (floor).
    const files = await svc.rewind(t, turns.slice(0, 6), ['t7'], 'rewind to t6');
    expect(files).toEqual(['a.txt']);
    expect((await svc.file(t, 'a.txt')).shadow).toBe('a1\n');
    expect((await svc.file(t, 'b.txt')).shadow).toBe('b6\n');
    // A restart reads the same (the rewound mark and the floor are in the snapshot).
    await svc.close();
    const again = ws.open({ gc: { rewindDepth: 2 } });
    expect((await again.file(t, 'a.txt')).shadow).toBe('a1\n');
    // Taking back t2 (whose checkpoint left the window) is refused, and nothing changes.
    const err = await again.rewind(t, ['t1'], turns.slice(1, 6), 'rewind to t1').catch((e: unknown) => e);
    expect(isShadowboxError(err) && err.reason).toBe('rewind_too_far');
    expect((await again.file(t, 'b.txt')).shadow).toBe('b6\n');
    // The person's files never changed.
    expect((await again.file(t, 'a.txt')).real).toBe('a0\n');
  });
});
