// The prune of "may this glob match below folder X": it must never say no where picomatch (as the deny rules and
// edit protection compile their globs) would match a path below X. Found by a red-team review: a top-level `|`,
// quotes, escapes, negation and σ/ς case folding each made it say no.
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import { globPruneBase, mayMatchAtOrBelow } from './glob-base.js';

const matches = (glob: string, path: string) => picomatch(glob, { dot: true, nocase: true })(path);

describe('globPruneBase / mayMatchAtOrBelow', () => {
  it('never says "no match below" for a folder holding a path the glob matches', () => {
    for (const [glob, dir, file] of [
      ['x/**|lib/pub/secret/**', 'lib', 'lib/pub/secret/k'],
      ['"lib"/pub/**', 'lib', 'lib/pub/k'],
      ['l\\ib/pub/**', 'lib', 'lib/pub/k'],
      ['a\\*b/**', 'a*b', 'a*b/k'],
      ['!pub/**', 'deep', 'deep/x'],
      ['aσ/pub/**', 'aς', 'aς/pub/k'],
      ['aµ/pub/**', 'aμ', 'aμ/pub/k'],
      ['{x,lib}/**', 'lib', 'lib/k'],
      ['Lib/Pub/**', 'lib', 'lib/pub/k'],
      ['lib/pub/secret/**', 'lib', 'lib/pub/secret/k'],
    ] as const) {
      expect({ glob, file, matches: matches(glob, file) }).toEqual({ glob, file, matches: true });
      expect({ glob, dir, may: mayMatchAtOrBelow(globPruneBase(glob), dir) }).toEqual({ glob, dir, may: true });
    }
  });

  it('still prunes a plain literal folder (the point of it)', () => {
    expect(globPruneBase('secrets/**')).toBe('secrets');
    expect(mayMatchAtOrBelow(globPruneBase('secrets/**'), 'pub')).toBe(false);
    expect(mayMatchAtOrBelow(globPruneBase('deep/secrets/**'), 'deep')).toBe(true);
    expect(mayMatchAtOrBelow(globPruneBase('SECRETS/key.txt'), 'secrets')).toBe(true);
    expect(mayMatchAtOrBelow(globPruneBase('.env'), 'src')).toBe(false);
  });
});
