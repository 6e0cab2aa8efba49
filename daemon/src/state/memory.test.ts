import { describe, expect, it } from 'vitest';
import { silentLogger } from './logger.js';
import { releaseMemory, releaseMemoryQuietly } from './memory.js';

describe('releaseMemory', () => {
  it('collects an old-generation object nothing refers to any more (a scavenge would not), and reports RSS', async () => {
    // ~800 KB: allocated in V8's large-object space, which only a full collection frees.
    const ref = new WeakRef(new Array<number>(100_000).fill(1));
    await new Promise((r) => setImmediate(r)); // WeakRef targets stay alive until the current job ends
    expect(ref.deref()).toBeDefined();
    const r = await releaseMemory();
    expect(ref.deref()).toBeUndefined();
    expect(r.rssBefore).toBeGreaterThan(0);
    expect(r.rssAfter).toBeGreaterThan(0);
    expect(r.ms).toBeGreaterThanOrEqual(0);
  });

  it('logs what it did at debug and never rejects', async () => {
    const lines: string[] = [];
    const logger = { ...silentLogger, debug: (m: string) => void lines.push(m) };
    await releaseMemoryQuietly(logger, 'a test');
    expect(lines).toEqual([expect.stringMatching(/^memory: collected after a test in \d+ ms, RSS \d+ → \d+ MiB$/)]);
  });
});
