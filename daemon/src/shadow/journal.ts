import { randomBytes } from 'node:crypto';
import { readFile, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic, mkdirAll } from '../state/index.js';
import { typedFsError } from '../state/index.js';
import type { FaultHook } from './fault.js';
import type { Base, Entry } from './layer-types.js';

/** The layer state of a set of paths (null = no entry), saved so undo and crash recovery can put it back. */
export interface LayerSlice {
  entries: Record<string, Entry | null>;
  known: Record<string, Base | null>;
}

/**
 * One accept, written before any real file changes (and before any temp file exists): `pending`
 * (temps may be staged, renames may have started), `applied` (real files done, layer not yet saved),
 * `done`, `rolled_back` (a failure or crash recovery), `undoing` (an undo started: temps may exist,
 * paths may be restored), `undone`. `before` bytes live in the layer's object store, so undo restores
 * them exactly; `target` is what the accept writes to each path, so a roll-back touches only paths
 * that still hold exactly that.
 */
export interface AcceptRecord {
  id: string;
  state: 'pending' | 'applied' | 'done' | 'rolled_back' | 'undoing' | 'undone';
  time: string;
  by: string;
  force: boolean;
  /** Temp files (workspace-relative), journaled before each is created; recovery removes them. */
  temps: string[];
  /**
   * A temp (also in `temps`) for each path a roll-back would put back as a file or link, named in the
   * `pending` record so a roll-back in the same call needs no journal write of its own (older records: none).
   */
  restoreTemps?: Record<string, string>;
  files: { path: string; action: string; before: Base; after?: Base; target?: Base }[];
  /** Directories the accept created (none of them existed before), shallow first; undo and roll-back remove the empty ones. */
  dirs?: string[];
  layerBefore?: LayerSlice;
  layerAfter?: LayerSlice;
  /** Paths a recovery left as the person had them (they changed since the accept or undo wrote them). */
  conflicts?: string[];
}

export function newAcceptId(): string {
  return `acc-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Why: the accept journal lives beside the layer, one JSON file per accept, replaced atomically (fsynced). */
export class Journal {
  private made = false;

  constructor(
    private readonly dir: string,
    private readonly faults?: FaultHook,
    /** Told of a record file that does not parse (recovery leaves it alone, and says so). */
    private readonly onUnreadable?: (file: string) => void,
  ) {}

  private file(id: string): string {
    return path.join(this.dir, `${id}.json`);
  }

  /**
   * Replaces the record atomically. `durable: false` (only for `done`, after the layer is saved) skips the
   * folder's fsync: a rename lost to a power cut leaves `applied`, which recovery completes again without a
   * change. The record's own bytes are still fsynced before the rename: on file systems that do not flush
   * a replaced file's data before the rename (XFS, ext4 with noauto_da_alloc), an unsynced record could
   * otherwise be left empty, and that accept could no longer be undone.
   */
  async write(r: AcceptRecord, opts: { durable?: boolean } = {}): Promise<void> {
    try {
      this.faults?.before('journal.write', this.file(r.id));
      const write = () =>
        writeFileAtomic(this.file(r.id), JSON.stringify(r), {
          durability: opts.durable === false ? 'contents' : 'sync',
        });
      // The folder is made once per journal (a thread-pool round trip saved on every write), and again
      // if something removed it since.
      if (!this.made) {
        await mkdirAll(this.dir);
        this.made = true;
      }
      await write().catch(async (e: unknown) => {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        await mkdirAll(this.dir);
        await write();
      });
    } catch (e) {
      throw await typedFsError(e, this.file(r.id));
    }
  }

  async read(id: string): Promise<AcceptRecord> {
    return JSON.parse(await readFile(this.file(id), 'utf8')) as AcceptRecord;
  }

  /** Forgets a record nothing needs (an accept rolled back in the same call, before anything stayed changed). */
  async remove(id: string): Promise<void> {
    await rm(this.file(id), { force: true });
  }

  /** Records left `pending`, `applied` or `undoing` by a crash. */
  async unfinished(): Promise<AcceptRecord[]> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const out: AcceptRecord[] = [];
    for (const n of names) {
      try {
        const r = JSON.parse(await readFile(path.join(this.dir, n), 'utf8')) as AcceptRecord;
        if (r.state === 'pending' || r.state === 'applied' || r.state === 'undoing') out.push(r);
      } catch {
        // Records are written whole (temp, fsync, rename); a file that does not parse is not ours to judge,
        // and is reported so it is never skipped silently.
        this.onUnreadable?.(path.join(this.dir, n));
      }
    }
    return out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  }
}
