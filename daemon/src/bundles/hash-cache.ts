import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { readJsonFileOrNull, writeFileAtomic } from '../state/index.js';

/**
 * Why: the store re-hashes a file only when its stat changed, but that memory was lost with the process,
 * so every daemon start read and hashed every installed bundle's files again (22 MiB for python: most of
 * the ~150 ms its first load took after a start). The same stat keys are kept here, in the state dir (private
 * to its owner, like the store itself), as the in-memory ones are trusted: ctime cannot be set by an
 * unprivileged writer, so an unchanged (device, inode, size, mtime, ctime) means unchanged bytes. Only for
 * files whose bytes are not kept: an entry module, the code that runs, is hashed as it is read in every
 * process. Losing the file costs only a re-hash: it is written without fsync, and a torn or foreign file is
 * ignored.
 */
export interface KeptHash {
  dev?: number;
  ino: number;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  sha256: string;
}

const FileSchema = lazySchema(() =>
  z.object({
    v: z.literal(2),
    files: z.record(
      z.string(),
      z.tuple([
        z.number(),
        z.number(),
        z.number(),
        z.string().regex(/^\d+$/),
        z.string().regex(/^\d+$/),
        z.string().regex(/^[0-9a-f]{64}$/),
      ]),
    ),
  }),
);

/** The kept hashes of one store: read once, written (coalesced) after each new hash. */
export class HashCache {
  private loaded: Promise<Map<string, KeptHash>> | null = null;
  private writing: Promise<void> | null = null;
  private dirty = false;

  constructor(private readonly file: string) {}

  async get(path: string): Promise<KeptHash | undefined> {
    return (await this.load()).get(path);
  }

  /** Remembers a hash and schedules a write of the file. */
  async set(path: string, h: KeptHash): Promise<void> {
    (await this.load()).set(path, h);
    this.dirty = true;
    this.writing ??= this.flush();
  }

  /** Resolves once what was set so far is written (tests). */
  async settled(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private load(): Promise<Map<string, KeptHash>> {
    this.loaded ??= (async () => {
      const map = new Map<string, KeptHash>();
      // Missing, torn or foreign: start empty (the next write replaces it).
      const kept = await readJsonFileOrNull(this.file, FileSchema());
      if (!kept) return map;
      for (const [p, [dev, ino, size, mtimeNs, ctimeNs, sha256]] of Object.entries(kept.files))
        map.set(p, { dev, ino, size, mtimeNs: BigInt(mtimeNs), ctimeNs: BigInt(ctimeNs), sha256 });
      return map;
    })();
    return this.loaded;
  }

  private async flush(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        const files = Object.fromEntries(
          [...(await this.load())].map(([p, h]) => [
            p,
            [h.dev ?? -1, h.ino, h.size, String(h.mtimeNs), String(h.ctimeNs), h.sha256],
          ]),
        );
        await writeFileAtomic(this.file, `${JSON.stringify({ v: 2, files })}\n`, {
          durability: 'none',
          mkdirMode: 0o700,
        }).catch(() => undefined); // a cache: a failed write costs a re-hash at the next start
      }
    } finally {
      this.writing = null;
    }
  }
}

/** Whether a stat is the one a hash was kept for (the device too, when the key has one). */
export function sameStat(
  h: KeptHash,
  st: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint },
): boolean {
  return (
    (h.dev === undefined || h.dev === Number(st.dev)) &&
    h.ino === Number(st.ino) &&
    h.size === Number(st.size) &&
    h.mtimeNs === st.mtimeNs &&
    h.ctimeNs === st.ctimeNs
  );
}
