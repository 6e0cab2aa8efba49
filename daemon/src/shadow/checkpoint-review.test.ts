// A turn's checkpoint holds only the turn's own changes: what accept, reject and undo changed since the
// last turn is committed to history on its own, so a turn that wrote nothing reports nothing.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { git, makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());

describe('checkpoints after review actions', () => {
  it('a turn after a reject that wrote nothing is no checkpoint; the next turn reports only its own files', async () => {
    ws = makeWorkspace({ 'a.txt': 'a\n', 'b.txt': 'b\n' });
    const svc = ws.open();
    const t = { sessionId: 's1', workspace: ws.root };
    const v = await svc.view('s1', ws.root);
    await v.writeFile('a.txt', 'A\n');
    expect((await svc.checkpoint('s1', ws.root, 't1', 'edit a'))?.files).toEqual(['a.txt']);
    await svc.reject(t, { paths: [], hunks: [] }, 'me');
    // The turn after the reject wrote nothing: no checkpoint, no "1 file changed".
    expect(await svc.checkpoint('s1', ws.root, 't2', 'cancelled turn')).toBeNull();
    expect((await svc.status(t)).commits.map((c) => c.summary)).toEqual(['edit a']);
    await v.writeFile('b.txt', 'B\n');
    expect((await svc.checkpoint('s1', ws.root, 't3', 'edit b'))?.files).toEqual(['b.txt']);
    // History still has the reject: a.txt is back to its real bytes at the tip.
    const repo = readdirSync(path.join(ws.stateDir, 'workspaces'))[0];
    const gitDir = path.join(ws.stateDir, 'workspaces', repo, 'shadow.git');
    const log = git(ws.root, '--git-dir', gitDir, 'log', '--format=%s', 'refs/shadowbox/sessions/s1')
      .trim()
      .split('\n');
    expect(log).toEqual([
      'edit b',
      'shadowbox: real files before turn t3',
      'shadowbox: review (accept, reject, undo) before turn t2',
      'edit a',
      'shadowbox: real files before turn t1',
    ]);
    expect(git(ws.root, '--git-dir', gitDir, 'show', 'refs/shadowbox/sessions/s1:a.txt')).toBe('a\n');
  });
});
