// "Could this glob match a path below folder X?" — asked before a remove or move of a folder (deny rules,
// edit protection) so that a folder holding a denied or protected path is refused without walking every folder
// for every glob. The answer prunes by the glob's literal leading folder, and only when that folder is what
// picomatch will really match: plain ASCII characters only. Anything else may match anywhere (fail closed):
// a negation (`!a/**` matches all but a/), a top-level `|` (alternation: `x/**|lib/**`), quotes (stripped:
// `"lib"/**`), escapes (`l\ib`), and letters whose case folds differently under picomatch's /i than under
// toLowerCase (σ/ς, µ/μ). picomatch has no "may this glob match below" query of its own.
import picomatch from 'picomatch';

const PLAIN = /^[A-Za-z0-9._\- /]*$/;

/** The glob's literal leading folder, lower-cased, or '' when it may match anywhere. */
export function globPruneBase(glob: string): string {
  const scan = picomatch.scan(glob);
  const base = scan.isGlob ? scan.base : glob;
  if (scan.negated || !PLAIN.test(base) || /[|"'\\]/.test(glob)) return '';
  return base.toLowerCase();
}

/**
 * The picomatch options of every path glob (deny rules, protected paths, the guards, grep's and glob's patterns):
 * dot files count, and the regex gets the `s` flag — picomatch's `*` and `**` compile to regexes with `.`, which
 * stops at a newline, a carriage return and U+2028/U+2029, so without it `secret/**` did not cover `secret/a\nb`
 * (a name a hostile repository can hold). With `flags` set picomatch drops its own `nocase` → `i`, so it is here too.
 */
export function pathGlobOptions(nocase: boolean): picomatch.PicomatchOptions {
  return { dot: true, nocase, flags: nocase ? 'si' : 's' };
}

/**
 * A guard's glob compiled once: its matcher and its prune base, from one place so the prune's assumptions cannot
 * drift from the matcher's options. The matcher says yes when the glob matches the path as written or in another
 * letter case: a guard must cover at least what the policy covers (deny rules match case-sensitively there,
 * protected paths case-insensitively), and case-insensitive alone matches less for a negation (`!src/**` holds
 * `SRC/x` case-sensitively, not under /i).
 */
export function compileGuardGlob(glob: string): { test: (rel: string) => boolean; base: string } {
  const exact = picomatch(glob, pathGlobOptions(false));
  const folded = picomatch(glob, pathGlobOptions(true));
  return { test: (rel) => exact(rel) || folded(rel), base: globPruneBase(glob) };
}

/** Whether a glob whose prune base is `base` may match `dir` or a path below it (`dir` canonical, relative). */
export function mayMatchAtOrBelow(base: string, dir: string): boolean {
  // A folder name with a non-ASCII letter may fold onto the base under /i where toLowerCase says no.
  if (base === '' || dir === '' || /[^\x00-\x7f]/.test(dir)) return true;
  const d = dir.toLowerCase();
  return base.startsWith(d + '/') || d === base || d.startsWith(base + '/');
}
