import { describe, expect, it } from 'vitest';
import { applyHunks, diffText } from './diff.js';

// A small deterministic PRNG so failures reproduce.
function rng(seed: number) {
  return () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

function mutate(text: string, r: () => number): string {
  const lines = text.split('\n');
  for (let i = 0; i < 1 + Math.floor(r() * 6); i++) {
    const at = Math.floor(r() * lines.length);
    const what = r();
    if (what < 0.33) lines.splice(at, 1);
    else if (what < 0.66) lines.splice(at, 0, `inserted ${Math.floor(r() * 1000)}`);
    else lines[at] = `changed ${Math.floor(r() * 1000)}`;
  }
  return lines.join('\n');
}

describe('diff', () => {
  it('all hunks turn old into new; any subset applies; ids are stable', () => {
    const r = rng(42);
    for (let round = 0; round < 300; round++) {
      const old =
        Array.from({ length: 5 + Math.floor(r() * 60) }, (_, i) => `line ${i}`).join('\n') + (r() < 0.5 ? '\n' : '');
      const next = mutate(old, r) + (r() < 0.2 ? '\n' : '');
      const d = diffText('f', 'f', old, next);
      expect(applyHunks(old, d.hunks)).toBe(next);
      expect(applyHunks(old, [])).toBe(old);
      const some = d.hunks.filter(() => r() < 0.5);
      const partial = applyHunks(old, some);
      expect(partial).not.toBeNull();
      // What is left to do after a partial accept keeps its hunk ids.
      const rest = diffText('f', 'f', partial!, next);
      expect(rest.hunks.map((h) => h.id).sort()).toEqual(
        d.hunks
          .filter((h) => !some.includes(h))
          .map((h) => h.id)
          .sort(),
      );
      expect(diffText('f', 'f', old, next).hunks.map((h) => h.id)).toEqual(d.hunks.map((h) => h.id));
    }
  });

  it('writes unified hunks git can apply', () => {
    const d = diffText('a.txt', 'a.txt', 'a\nb\nc\n', 'a\nB\nc\nd');
    expect(d.patch).toBe(
      '--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n\\ No newline at end of file\n',
    );
    expect(diffText('n', 'n', '', 'x\n').hunks[0].header).toBe('@@ -0,0 +1,1 @@');
  });
});
