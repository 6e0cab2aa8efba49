import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { workspaceStateDir } from '../state/index.js';
import { git, makeWorkspace } from './test-support.js';

let ws: ReturnType<typeof makeWorkspace>;
afterEach(async () => ws?.cleanup());

const packs = (repo: string) =>
  readdirSync(path.join(repo, 'objects', 'pack')).filter((n) => n.endsWith('.pack')).length;

describe('shadow repository repack', () => {
  it('merges packs in the background once there are more than maxPacks, history and fsck intact, later checkpoints dedupe against the new pack', async () => {
    ws = makeWorkspace({ 'a.txt': 'v0\n' });
    const svc = ws.open({ gc: { maxPacks: 4 } });
    const v = await svc.view('s1', ws.root);
    const repo = path.join(workspaceStateDir(ws.stateDir, ws.root), 'shadow.git');
    // Checkpoints run concurrently with the scheduled repacks (serialized by the repository lock).
    for (let i = 1; i <= 12; i++) {
      await v.writeFile('a.txt', `v${i}\n`);
      await v.writeFile(`f${i}.txt`, `file ${i}\n`.repeat(50));
      expect(await svc.checkpoint('s1', ws.root, `t${i}`, `turn ${i}`)).not.toBeNull();
    }
    // A version history already holds (v1) after the repack: the writer's id cache must have been re-read.
    await v.writeFile('a.txt', 'v1\n');
    await svc.checkpoint('s1', ws.root, 't13', 'back to v1');
    await svc.close(); // waits for a scheduled repack
    expect(packs(repo)).toBeLessThanOrEqual(5);
    git(repo, '--git-dir=.', 'fsck', '--strict', '--no-dangling');
    const log = git(repo, '--git-dir=.', 'log', '--format=%s', 'refs/shadowbox/sessions/s1').trim().split('\n');
    expect(log).toContain('turn 12');
    expect(log).toContain('back to v1');
    expect(git(repo, '--git-dir=.', 'show', 'refs/shadowbox/sessions/s1~1:f12.txt')).toBe('file 12\n'.repeat(50));
    expect(git(repo, '--git-dir=.', 'show', 'refs/shadowbox/sessions/s1:a.txt')).toBe('v1\n');
    // No loose objects left behind by the repack (prune-packed).
    const loose = readdirSync(path.join(repo, 'objects'))
      .filter((d) => /^[0-9a-f]{2}$/.test(d))
      .flatMap((d) => readdirSync(path.join(repo, 'objects', d)));
    expect(loose).toEqual([]);
  });
});
