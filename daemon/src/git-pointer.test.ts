import { describe, expect, it } from 'vitest';
import { gitDirsPointedTo } from './git-pointer.js';

const reader = (files: Record<string, string>) => (rel: string) => Promise.resolve(files[rel] ?? null);

describe('gitDirsPointedTo', () => {
  it('follows gitdir and commondir to folders inside the workspace', async () => {
    const files = { '.git': 'gitdir: ./.bare/worktrees/main\n', '.bare/worktrees/main/commondir': '../..\n' };
    expect(await gitDirsPointedTo('/w', '.git', reader(files))).toEqual(['.bare/worktrees/main', '.bare']);
    expect(await gitDirsPointedTo('/w', '.git', reader({ '.git': 'gitdir: /w/.gitstore' }))).toEqual(['.gitstore']);
    expect(await gitDirsPointedTo('/w', 'sub/.git', reader({ 'sub/.git': 'gitdir: ../.store/sub' }))).toEqual([
      '.store/sub',
    ]);
  });

  it('nothing for a folder outside the workspace, the workspace itself, or no gitdir line', async () => {
    expect(await gitDirsPointedTo('/w', '.git', reader({ '.git': 'gitdir: /elsewhere/repo/.git' }))).toEqual([]);
    expect(await gitDirsPointedTo('/w', '.git', reader({ '.git': 'gitdir: ../up' }))).toEqual([]);
    expect(await gitDirsPointedTo('/w', '.git', reader({ '.git': 'gitdir: .' }))).toEqual([]);
    expect(await gitDirsPointedTo('/w', '.git', reader({ '.git': 'not a pointer' }))).toEqual([]);
    expect(await gitDirsPointedTo('/w', '.git', reader({}))).toEqual([]);
  });
});
