import { describe, expect, it } from 'vitest';
import { interleave, row, stats } from './interleave.mjs';

describe('interleave', () => {
  it('alternates the order every round and reports median and range of each side', async () => {
    const order = [];
    const r = await interleave(
      5,
      () => void order.push('a'),
      () => void order.push('b'),
    );
    expect(order.join('')).toBe('abbaabbaab');
    expect(r.subject.n).toBe(5);
    expect(stats([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, n: 3 });
    const x = row('m', { subject: stats([2, 4, 6]), baseline: stats([1, 2, 3]) }, 'note');
    expect(x.ratio).toBe(2);
    expect(x.note).toBe('note; 3 rounds: 2–6 vs 1–3');
  });
  it('refuses fewer than 5 rounds', async () => {
    await expect(
      interleave(
        3,
        async () => {},
        async () => {},
      ),
    ).rejects.toThrow('at least 5');
  });
});
