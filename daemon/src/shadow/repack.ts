import { readdir } from 'node:fs/promises';
import path from 'node:path';
import type { FaultHook } from './fault.js';
import type { Git } from './git.js';
import type { Logger } from '../state/index.js';
import { Mutex } from './mutex.js';
import type { RepoObjects } from './objects.js';

/** Repack once a shadow repository holds more packs than this (each checkpoint writes one). */
export const DEFAULT_MAX_PACKS = 32;

export interface RepackOptions {
  /** Pack count above which a repack is scheduled (default 32). */
  maxPacks?: number;
}

/** Number of packs (`objects/pack/*.pack`) in a repository; 0 when there is none. */
export async function countPacks(repoDir: string): Promise<number> {
  try {
    return (await readdir(path.join(repoDir, 'objects', 'pack'))).filter(
      (n) => n.startsWith('pack-') && n.endsWith('.pack'),
    ).length;
  } catch {
    return 0;
  }
}

/**
 * Why: a checkpoint writes one pack, so a long session leaves hundreds of them (every object lookup
 * walks each index, and packs without deltas keep every version whole). Every writer of a shadow
 * repository (checkpoint, export) runs under its repository lock; `git repack -a -d` runs under the
 * same lock, so it never sees a pack whose ref is not written yet (it would drop those objects as
 * unreachable). After a repack the writer's cache of known ids is re-read from the new index.
 */
export class RepoMaintenance {
  readonly lock = new Mutex();
  private scheduled: Promise<void> | null = null;
  /** Last repack: how long it took and the pack count before/after (for logs, tests and the bench). */
  last: { ms: number; before: number; after: number } | null = null;

  constructor(
    readonly repoDir: string,
    private readonly git: Git,
    private readonly objects: RepoObjects,
    private readonly logger: Logger,
    private readonly maxPacks = DEFAULT_MAX_PACKS,
    private readonly faults?: FaultHook,
  ) {}

  /** Called after a write to the repository (outside its lock): schedules a background repack when there are too many packs. */
  async maybeSchedule(): Promise<void> {
    if (this.scheduled || (await countPacks(this.repoDir)) <= this.maxPacks) return;
    this.scheduled = this.lock
      .run(() => this.repack())
      .catch((e: unknown) => this.logger.warn(`shadow: repack of ${this.repoDir} failed: ${String(e)}`))
      .finally(() => {
        this.scheduled = null;
      });
  }

  /** Resolves when a scheduled repack (if any) has finished. */
  async idle(): Promise<void> {
    await this.scheduled;
  }

  /** Merges all packs into one (git computes deltas between versions), drops loose objects now packed. Caller holds `lock`. */
  async repack(): Promise<void> {
    const t0 = performance.now();
    const before = await countPacks(this.repoDir);
    const g = ['-c', 'core.hooksPath=/dev/null', '-c', 'gc.auto=0', `--git-dir=${this.repoDir}`];
    try {
      this.faults?.before('repack', this.repoDir);
      await this.git([...g, 'repack', '-a', '-d', '-q']);
      await this.git([...g, 'prune-packed', '-q']);
    } finally {
      // Even a failed repack may have replaced packs: the cache is read again from what is on disk.
      this.objects.reset();
    }
    this.last = { ms: performance.now() - t0, before, after: await countPacks(this.repoDir) };
    this.logger.debug(
      `shadow: repacked ${this.repoDir}: ${before} → ${this.last.after} packs in ${this.last.ms.toFixed(0)} ms`,
    );
  }
}
