// Shared pieces of the fault-injection suite: a seeded generator (same points on every run), and the
// counts every scenario reports.

/** mulberry32: a tiny seeded PRNG, so the fault points are the same on every run and machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` distinct integers in [lo, hi], sorted, drawn from `seed`. */
export function seededPoints(seed: number, n: number, lo: number, hi: number): number[] {
  const rnd = seededRandom(seed);
  const out = new Set<number>();
  while (out.size < n) out.add(lo + Math.floor(rnd() * (hi - lo + 1)));
  return [...out].sort((a, b) => a - b);
}
