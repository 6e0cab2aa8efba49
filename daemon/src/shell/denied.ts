import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { compileGuardGlob, mayMatchAtOrBelow } from '../glob-base.js';

/** Entries walked at most while looking for denied paths (a deny glob over a huge tree is paid for once per run). */
const MAX_WALK = 200_000;

/**
 * Why: the file tools refuse a path a deny rule keeps from the call, and so must a command — but it sees
 * the workspace through the kernel, not the view. So the matching paths become whiteouts in the run's
 * layer: absent for the command. The real tree is walked from the root, never through a link, `.git`
 * skipped, entering only folders below which a rule may match (glob-base's prune: a rule's plain literal
 * leading folder, compared case-insensitively; any rule whose leading part is not plain may match anywhere),
 * and a matching folder is hidden whole. The rules match as the policy matches them (compileGuardGlob:
 * case-insensitive, dotfiles and names holding line breaks included) — not from the rule's literal text as
 * written: `Secrets/**` hides the real `secrets/`, and `x/**|secrets/**` hides `secrets/` too.
 * Past `maxWalk` entries the run is refused (fail closed), never started with a denied path left visible.
 */
export async function deniedPathsIn(
  workspace: string,
  denied: readonly { glob: string }[],
  maxWalk = MAX_WALK,
): Promise<string[]> {
  if (denied.length === 0) return [];
  const guards = denied.map((d) => compileGuardGlob(d.glob));
  const out = new Set<string>();
  let walked = 0;
  const walk = async (rel: string): Promise<void> => {
    const list = await readdir(path.join(workspace, rel), { withFileTypes: true }).catch(() => []);
    for (const e of list) {
      if (++walked > maxWalk)
        throw new ShadowboxError(
          ErrorCodes.SandboxFailed,
          'sandbox_setup_failed',
          `the command did not run: finding the paths the deny rules hide walked more than ${maxWalk} entries of the workspace; narrow the deny rules' globs (a literal leading folder, \`secrets/**\`, limits the walk to it)`,
          { detail: `deny rules: ${denied.map((d) => d.glob).join(', ')}` },
        );
      const c = rel === '' ? e.name : `${rel}/${e.name}`;
      if (c === '.git') continue;
      const dir = e.isDirectory();
      if (guards.some((g) => g.test(c) || (dir && g.test(`${c}/`)))) out.add(c);
      else if (dir && guards.some((g) => mayMatchAtOrBelow(g.base, c))) await walk(c);
    }
  };
  await walk('');
  return [...out];
}
