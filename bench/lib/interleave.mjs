// Side-by-side timing: a measurement and its real alternative run alternately (the order flips
// every round), so load on a shared machine hits both alike; each reports median and min–max.

/** Median, min and max of a list of numbers. */
export function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1], n: s.length };
}

/** Times `fn` once (ms). */
export async function time(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/** Runs `subject` and `baseline` alternately for `rounds` (at least 5); returns both stats. */
export async function interleave(rounds, subject, baseline) {
  if (rounds < 5) throw new Error('interleave: at least 5 rounds');
  const a = [];
  const b = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      a.push(await time(subject));
      b.push(await time(baseline));
    } else {
      b.push(await time(baseline));
      a.push(await time(subject));
    }
  }
  return { subject: stats(a), baseline: stats(b) };
}

const r1 = (x) => Math.round(x * 10) / 10;

/** A bench row from interleave()'s result: median value and baseline, their ranges, the ratio of medians. */
export function row(metric, { subject, baseline }, note, unit = 'ms') {
  return {
    metric,
    value: r1(subject.median),
    unit,
    baseline: r1(baseline.median),
    ratio: Math.round((subject.median / baseline.median) * 100) / 100,
    note: `${note}; ${subject.n} rounds: ${r1(subject.min)}–${r1(subject.max)} vs ${r1(baseline.min)}–${r1(baseline.max)}`,
  };
}
