import { describe, expect, it } from 'vitest';
import { FileQueue } from './file-queue.js';

describe('FileQueue', () => {
  it('hands files over in order, waiting for `atLeast` of them or the close', async () => {
    const q = new FileQueue();
    const first = q.take(2, 2);
    q.push(0, 'a');
    q.push(1, 'b');
    q.push(2, 'c');
    expect((await first).map((f) => f.path)).toEqual(['a', 'b']);
    const rest = q.take(10, 5);
    q.close();
    expect((await rest).map((f) => f.k)).toEqual([2]);
    expect(await q.take(10)).toEqual([]);
  });

  it('paces the producer: full once `ahead` files pass what the taker asked for, room when it asks for more or is done', async () => {
    const q = new FileQueue();
    void q.take(2, 2);
    for (let k = 0; k < 5; k++) q.push(k, `f${k}`);
    expect(q.full(4)).toBe(false);
    q.push(5, 'f5');
    expect(q.full(4)).toBe(true);
    let roomy = false;
    const waiting = q.room(4).then(() => (roomy = true));
    await Promise.resolve();
    expect(roomy).toBe(false);
    void q.take(3); // the taker now wants files up to index 5
    await waiting;
    expect(q.full(4)).toBe(false);
    for (let k = 6; k < 20; k++) q.push(k, `f${k}`);
    const later = q.room(4);
    q.done(); // the taker stops: the producer is never left waiting
    await later;
    expect(q.full(1_000_000)).toBe(false);
  });

  it('room(() => n) asks how far ahead again at each wake-up (the taker learns more as it goes)', async () => {
    const q = new FileQueue();
    const first = q.take(2, 2); // asked up to index 2
    q.push(0, 'f0');
    q.push(1, 'f1');
    await first;
    for (let k = 2; k < 6; k++) q.push(k, `f${k}`); // 4 past it
    let ahead = 2;
    let roomy = false;
    const waiting = q.room(() => ahead).then(() => (roomy = true));
    await q.take(1); // asked up to 3: a wake-up, still 3 past it, more than 2
    await new Promise((r) => setTimeout(r, 0));
    expect(roomy).toBe(false);
    ahead = 8;
    await q.take(1); // asked up to 4: a wake-up, and now 8 may be past it
    await waiting;
    expect(roomy).toBe(true);
  });
});
