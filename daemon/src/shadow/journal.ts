import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../state/index.js';
import type { Base, Entry } from './layer-types.js';

/** The layer state of a set of paths (null = no entry), saved so undo and crash recovery can put it back. */
export interface LayerSlice {
  entries: Record<string, Entry | null>;
  known: Record<string, Base | null>;
}

/**
 * One accept, written before any real file changes: `pending` (temp files staged, renames may have
 * started), `applied` (real files done, layer not yet saved), `done`, `rolled_back` (crash recovery),
 * `undone`. `before` bytes live in the layer's object store, so undo restores them exactly.
 */
export interface AcceptRecord {
  id: string;
  state: 'pending' | 'applied' | 'done' | 'rolled_back' | 'undone';
  time: string;
  by: string;
  force: boolean;
  temps: string[];
  files: { path: string; action: string; before: Base; after?: Base }[];
  /** Directories the accept created (none of them existed before), shallow first; undo and roll-back remove the empty ones. */
  dirs?: string[];
  layerBefore?: LayerSlice;
  layerAfter?: LayerSlice;
}

export function newAcceptId(): string {
  return `acc-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Why: the accept journal lives beside the layer, one JSON file per accept, replaced atomically. */
export class Journal {
  constructor(private readonly dir: string) {}

  async write(r: AcceptRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(path.join(this.dir, `${r.id}.json`), JSON.stringify(r));
  }

  async read(id: string): Promise<AcceptRecord> {
    return JSON.parse(await readFile(path.join(this.dir, `${id}.json`), 'utf8')) as AcceptRecord;
  }

  /** Records left `pending` or `applied` by a crash. */
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
        if (r.state === 'pending' || r.state === 'applied') out.push(r);
      } catch {
        // a torn temp never gets the .json name; a non-JSON file is not ours to judge
      }
    }
    return out;
  }
}
