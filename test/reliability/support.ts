// Shared pieces of the fault-injection suite: a seeded generator (same points on every run), and the
// counts every scenario reports.
import { seeded } from '../../daemon/src/shadow/fault-support.js';

/** `n` distinct integers in [lo, hi], sorted, drawn from `seed` (mulberry32: the same points on every run and machine). */
export function seededPoints(seed: number, n: number, lo: number, hi: number): number[] {
  const rnd = seeded(seed);
  const out = new Set<number>();
  while (out.size < n) out.add(lo + Math.floor(rnd() * (hi - lo + 1)));
  return [...out].sort((a, b) => a - b);
}
