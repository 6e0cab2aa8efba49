import { constants, type Dirent } from 'node:fs';
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { gitDirsPointedTo, isHistoryStore } from '../git-pointer.js';
import { compileGuardGlob, mayMatchAtOrBelow } from '../glob-base.js';

/** Entries walked at most while looking for denied paths (a deny glob over a huge tree is paid for once per run). */
const MAX_WALK = 200_000;

/**
 * Why: the file tools refuse a path a deny rule keeps from the call, and so must a command — but it sees
 * the workspace through the kernel, not the view. So the matching paths become whiteouts in the run's
 * layer: absent for the command. The real tree is walked from the root, never through a link, every `.git`
 * (or other version-control store: `.hg`, `.svn`, `.jj`, …) met hidden (its history holds the denied paths) with the folders a `.git` file points to, entering only
 * folders below which a rule may match (glob-base's prune: a rule's plain literal leading folder, compared
 * case-insensitively; any rule whose leading part is not plain may match anywhere), and a matching folder is
 * hidden whole. The rules match as the policy matches them or wider
 * (compileGuardGlob: as written or in another letter case, dotfiles and names holding line breaks included) —
 * not from the rule's literal text: `Secrets/**` hides the real `secrets/`, and `x/**|secrets/**` hides
 * `secrets/` too. The run is refused (fail closed) rather than started with a denied path left visible: past
 * `maxWalk` entries, when a folder can be entered but not listed (a command may still open names in it), and when a path
 * to hide is not valid UTF-8 (names are read as bytes; a whiteout is made by name, and the decoded name, with
 * U+FFFD for the bad bytes, is another file).
 */
export async function deniedPathsIn(
  workspace: string,
  denied: readonly { glob: string }[],
  maxWalk = MAX_WALK,
): Promise<string[]> {
  if (denied.length === 0) return [];
  const guards = denied.map((d) => compileGuardGlob(d.glob));
  const refuse = (why: string) =>
    new ShadowboxError(ErrorCodes.SandboxFailed, 'sandbox_setup_failed', `the command did not run: ${why}`, {
      detail: `deny rules: ${denied.map((d) => d.glob).join(', ')}`,
    });
  const out = new Set<string>();
  let walked = 0;
  const abs = (raw: Buffer) =>
    raw.length === 0 ? Buffer.from(workspace) : Buffer.concat([Buffer.from(`${workspace}/`), raw]);
  const enterable = (raw: Buffer) =>
    access(abs(raw), constants.X_OK).then(
      () => true,
      () => false,
    );
  const readText = (rel: string) =>
    readFile(path.join(workspace, rel), { encoding: 'utf8', flag: constants.O_RDONLY | constants.O_NOFOLLOW }).catch(
      () => null,
    );
  // `raw` is the path's bytes, `rel` its UTF-8 decoding (what the rules match), `exact` whether the two agree.
  const walk = async (raw: Buffer, rel: string, exact: boolean): Promise<void> => {
    let list: Dirent<Buffer>[];
    try {
      list = await readdir(abs(raw), { withFileTypes: true, encoding: 'buffer' });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return; // gone or replaced meanwhile: nothing to hide there
      // A folder this user cannot enter at all cannot be entered by the command either (same user in the sandbox):
      // nothing below it to hide. One it can enter but not list (mode 0311) could still be read by known names.
      if (code === 'EACCES' && !(await enterable(raw))) return;
      throw refuse(
        `finding the paths the deny rules hide, ${JSON.stringify(rel || '.')} could not be listed (${code ?? String(e)})`,
      );
    }
    for (const e of list) {
      if (++walked > maxWalk)
        throw refuse(
          `finding the paths the deny rules hide walked more than ${maxWalk} entries of the workspace; narrow the deny rules' globs (a literal leading folder, \`secrets/**\`, limits the walk to it)`,
        );
      const nameRaw = e.name;
      const name = nameRaw.toString('utf8');
      const c = rel === '' ? name : `${rel}/${name}`;
      const cRaw = raw.length === 0 ? nameRaw : Buffer.concat([raw, Buffer.from('/'), nameRaw]);
      const cExact = exact && Buffer.from(name, 'utf8').equals(nameRaw);
      const dir = e.isDirectory();
      // A repository's history holds the denied paths (`git show HEAD:secrets/key.pem`): every `.git` met is
      // hidden too, as is every other version-control store (`.hg`, `.svn`, `.jj`, …: git-pointer.ts), and the
      // sandbox binds no `.git` from outside the workspace (sandbox.ts).
      if (isHistoryStore(name)) {
        if (!cExact) throw refuse(`${JSON.stringify(c)} cannot be hidden: its name is not valid UTF-8`);
        out.add(c);
        // A `.git` file points to the history: a worktree's, `--separate-git-dir`, a bare repository's (git-pointer.ts).
        if (e.isFile() && name.toLowerCase() === '.git')
          for (const d of await gitDirsPointedTo(workspace, c, readText)) out.add(d);
        continue;
      }
      if (guards.some((g) => g.test(c) || (dir && g.test(`${c}/`)))) {
        if (!cExact)
          throw refuse(
            `${JSON.stringify(c)} is denied by a rule but its name is not valid UTF-8, so it cannot be hidden`,
          );
        out.add(c);
      } else if (dir && guards.some((g) => mayMatchAtOrBelow(g.base, c))) await walk(cRaw, c, cExact);
    }
  };
  await walk(Buffer.alloc(0), '', true);
  return [...out];
}
