// Where a `.git` FILE points (a worktree, `git init --separate-git-dir`, a bare repository with worktrees:
// `gitdir: ./.bare/worktrees/main`, and that folder's `commondir`): the repository's history may live in a folder
// of the workspace under another name. Deny rules withhold the history with the denied paths (restrictView, the
// shell's hidden paths), so they withhold these folders too. Pure path arithmetic over text the caller reads.
import { posix } from 'node:path';

/**
 * The folders in which version-control systems keep a repository's history beside a checkout: git, Mercurial
 * (`.hg/store` revlogs), Subversion (`.svn/pristine`: a whole copy of each file), Jujutsu (`.jj/repo/store`),
 * Bazaar, darcs and Pijul. Deny rules withhold each of them with the denied paths, as they withhold `.git`.
 * Compared in any letter case (a case-insensitive disk opens `.HG` as `.hg`).
 */
const HISTORY_STORES = new Set(['.git', '.hg', '.svn', '.jj', '.bzr', '_darcs', '.pijul']);

/** Whether a file name is one of the version-control history folders above, in any letter case. */
export function isHistoryStore(name: string): boolean {
  return HISTORY_STORES.has(name.toLowerCase());
}

/** The workspace-relative folder a `gitdir:` or `commondir` line names, from the folder `base` it was read in; null when outside. */
function inside(base: string, target: string): string | null {
  const t = target.trim();
  if (t === '') return null;
  const rel = posix.normalize(posix.isAbsolute(t) ? t : posix.join(base, t));
  return rel === '.' || rel === '..' || rel.startsWith('../') || posix.isAbsolute(rel) ? null : rel.replace(/\/$/, '');
}

/**
 * The folders inside the workspace that hold the history a `.git` file at `dotGit` (workspace-relative) points to:
 * its `gitdir`, and that folder's `commondir` when it has one. `read` returns a workspace file's text or null.
 * `root` is the workspace's absolute path, for a `gitdir:` written as an absolute path.
 */
export async function gitDirsPointedTo(
  root: string,
  dotGit: string,
  read: (rel: string) => Promise<string | null>,
): Promise<string[]> {
  const text = await read(dotGit);
  const m = text === null ? null : /^gitdir:\s*(.+)$/m.exec(text);
  if (!m) return [];
  const raw = m[1].trim();
  const dir = inside(posix.dirname(dotGit), posix.isAbsolute(raw) ? posix.relative(root, raw) || '.' : raw);
  if (dir === null) return [];
  const out = [dir];
  const common = await read(`${dir}/commondir`);
  const c = common === null ? null : inside(dir, common);
  if (c !== null && c !== dir) out.push(c);
  return out;
}
