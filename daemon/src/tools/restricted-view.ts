import { posix } from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { gitDirsPointedTo, isHistoryStore } from '../git-pointer.js';
import { compileGuardGlob, mayMatchAtOrBelow } from '../glob-base.js';
import type { DirEntry, EntryStat, WorkspaceView } from '../shadow/index.js';

/** A path glob the policy denies to one call (a deny rule with a `path` that matches the call's tool and kind). */
export interface DeniedPath {
  glob: string;
  /** The rule, as the policy names it (`project:deny path=secrets/**`). */
  rule: string;
}

/**
 * With any path denied, the repository's history is withheld too: every `.git` (the workspace's, a nested
 * repository's, any letter case), every other version-control store (`.hg`, `.svn`, `.jj`, …: isHistoryStore) and
 * the folders a `.git` file points to inside the workspace (`gitDirs`: git-pointer.ts) — their objects hold the
 * committed content of the denied paths (`git show HEAD:secrets/key.pem`, zlib over `.git/objects` from python,
 * `.svn/pristine`'s plain copies). `.git/info/exclude` stays readable: ignore rules, not history (the shell's
 * review reads it). Named after the rules it stands in for. The shell's run hides the same (shell/denied.ts).
 */
function historyGuard(denied: readonly DeniedPath[], gitDirs: readonly string[]): Compiled {
  const rule = `${denied.map((d) => d.rule).join(', ')} (git history holds the denied paths)`;
  const dirs = gitDirs.map((d) => d.toLowerCase());
  const test = (rel: string) => {
    const l = rel.toLowerCase();
    if (/(^|\/)\.git\/info\/exclude$/.test(l)) return false;
    return l.split('/').some(isHistoryStore) || dirs.some((d) => l === d || l.startsWith(`${d}/`));
  };
  return { glob: '**/.git/**', rule, test, base: '' };
}

interface Compiled extends DeniedPath {
  test: (rel: string) => boolean;
  /** The glob's literal leading folder, lower-cased ('' when it may match anywhere: glob-base.ts): prunes subtree checks. */
  base: string;
}

/**
 * Why: a call the policy lets run (grep of the whole workspace, python, a bundle) may still be denied some
 * paths, and those tools reach files through the view, not through paths they declared. This is the view
 * such a call gets: every path is resolved by the session's view first (symlinks followed, escapes refused),
 * then a denied canonical path is refused (PermissionDenied, `path_denied`, naming the rule) for reads,
 * writes, removes and renames, and left out of directory listings — so grep, glob and list_dir never see
 * its name and sandboxed code cannot open it. Matching is as the policy's or wider (compileGuardGlob). With any
 * path denied, the repository's history is withheld as well (historyGuard); `gitDirs` are the workspace folders a
 * `.git` file points to (restrictedFor finds them).
 */
export function restrictView(
  view: WorkspaceView,
  denied: readonly DeniedPath[],
  gitDirs: readonly string[] = [],
): WorkspaceView {
  if (denied.length === 0) return view;
  const globs: Compiled[] = [
    ...denied.map((d) => ({ ...d, ...compileGuardGlob(d.glob) })),
    historyGuard(denied, gitDirs),
  ];
  const hit = (rel: string) => (rel === '' ? undefined : globs.find((g) => g.test(rel)));
  const refuse = (input: string, rel: string, g: DeniedPath) =>
    new ShadowboxError(
      ErrorCodes.PermissionDenied,
      'path_denied',
      `${input === rel ? rel : `${input} (${rel})`} is denied by the policy (${g.rule})`,
      { path: rel, rule: g.rule },
    );
  const check = async (p: string, intent: 'read' | 'write'): Promise<string> => {
    const rel = await view.resolve(p, intent);
    const g = hit(rel);
    if (g) throw refuse(p, rel, g);
    return rel;
  };
  const mayMatchBelow = (dir: string) => globs.some((g) => mayMatchAtOrBelow(g.base, dir));
  // A remove or rename of a directory would take denied paths below it along: refused when one exists.
  const refuseIfDeniedBelow = async (input: string, dir: string): Promise<void> => {
    if (!mayMatchBelow(dir) || (await view.stat(dir))?.type !== 'dir') return;
    const stack = [dir];
    while (stack.length > 0) {
      const d = stack.pop() as string;
      for (const e of await view.readdir(d)) {
        const rel = d ? `${d}/${e.name}` : e.name;
        const g = hit(rel);
        if (g) throw refuse(input, rel, g);
        if (e.type === 'dir') stack.push(rel);
      }
    }
  };
  const visible = async (dir: string, e: DirEntry): Promise<boolean> => {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (hit(rel)) return false;
    if (e.type !== 'symlink') return true;
    // A link into a denied path is as invisible as the path.
    const target = await view.resolve(rel, 'read').catch(() => null);
    return target === null || !hit(target);
  };

  const isReal = view.isReal?.bind(view);
  const realFiles = view.realFiles?.bind(view);
  const realSize = view.realSize?.bind(view);
  const layerVersion = view.layerVersion?.bind(view);
  return {
    get root() {
      return view.root;
    },
    ...(isReal ? { isReal: (rel: string) => !hit(rel) && isReal(rel) } : {}),
    // The deny rules are fixed for the view's life: isReal above changes exactly when the view's does.
    ...(isReal && layerVersion ? { layerVersion } : {}),
    ...(realFiles
      ? {
          realFiles: (dir: string) => {
            if (hit(dir)) return null;
            const names = realFiles(dir);
            if (!names) return null;
            for (const n of names) if (hit(dir ? `${dir}/${n}` : n)) names.delete(n);
            return names;
          },
        }
      : {}),
    ...(realSize ? { realSize: (rel: string) => (hit(rel) ? null : realSize(rel)) } : {}),
    resolve: (p, intent = 'read') => check(p, intent),
    async stat(p): Promise<EntryStat | null> {
      return view.stat(await check(p, 'read'));
    },
    async readFile(p) {
      return view.readFile(await check(p, 'read'));
    },
    async readdir(p) {
      const rel = await check(p, 'read');
      const entries = await view.readdir(rel);
      const keep = await Promise.all(entries.map((e) => visible(rel, e)));
      return entries.filter((_, i) => keep[i]);
    },
    async writeFile(p, data, options) {
      return view.writeFile(await check(p, 'write'), data, options);
    },
    async mkdir(p) {
      return view.mkdir(await check(p, 'write'));
    },
    async remove(p) {
      const rel = await check(p, 'write');
      await refuseIfDeniedBelow(p, rel);
      return view.remove(rel);
    },
    async rename(from, to) {
      const a = await check(from, 'write');
      const b = await check(to, 'write');
      await refuseIfDeniedBelow(from, a);
      return view.rename(a, posix.normalize(b));
    },
    async symlink(p, target) {
      // The link's own path is checked (its folder resolved); what it points to is checked when read through.
      const norm = posix.normalize(p.replaceAll('\\', '/'));
      const parent = posix.dirname(norm);
      const dir = await check(parent === '.' ? '' : parent, 'write');
      const rel = dir ? `${dir}/${posix.basename(norm)}` : posix.basename(norm);
      const g = hit(rel);
      if (g) throw refuse(p, rel, g);
      return view.symlink(rel, target);
    },
  };
}

/**
 * The view a call denied `denied` gets: restrictView, with the folders the workspace's `.git` file points to
 * (a worktree, `--separate-git-dir`, a bare repository with worktrees) withheld like `.git` itself.
 */
export async function restrictedFor(view: WorkspaceView, denied: readonly DeniedPath[]): Promise<WorkspaceView> {
  if (denied.length === 0) return view;
  const st = await view.stat('.git').catch(() => null);
  const gitDirs =
    st?.type === 'file'
      ? await gitDirsPointedTo(view.root, '.git', (rel) =>
          view.readFile(rel).then(
            (b) => Buffer.from(b).toString('utf8'),
            () => null,
          ),
        )
      : [];
  return restrictView(view, denied, gitDirs);
}
