// The shapes a session's layer is made of: what a path held (Base), what the layer changed (Entry),
// and the persisted manifest. Shared by the store, the view, review, accept and history.

/** What a real path held when the session first based an edit on it; content lives in the object store. */
export type Base =
  | { type: 'none' }
  | { type: 'dir' }
  | { type: 'file' | 'symlink'; oid: string; mode: number; size: number; mtimeMs: number; ino: number };

/**
 * One changed path in the layer. File content lives in the object store. A `file` entry with `link` is a
 * symbolic link the agent made (a sandboxed command's `ln -s`): `link` is its target, `oid` the blob of
 * that text (what git stores for a link), `mode` 0o777.
 */
export type Entry =
  | {
      kind: 'file';
      oid: string;
      mode: number;
      size: number;
      mtimeMs: number;
      base: Base;
      from?: string;
      link?: string;
    }
  | { kind: 'deleted'; base: Base }
  | { kind: 'dir'; base: Base; opaque: boolean };

/** Whether an entry is a symlink the agent made (a `file` entry with a link target). */
export function isLinkEntry(e: Entry | undefined): e is Extract<Entry, { kind: 'file' }> & { link: string } {
  return e?.kind === 'file' && e.link !== undefined;
}

/** Whether an entry hides the real file system below its path: a file, a deletion, or an opaque folder. */
export function hidesRealBelow(e: Entry | undefined): boolean {
  return e !== undefined && (e.kind !== 'dir' || e.opaque);
}

/** A blob as the shadow history holds it. */
export interface Blob {
  oid: string;
  mode: number;
  type: 'file' | 'symlink';
  /** In `committed`: the base (`baseKey`) the agent's version was derived from, so a later turn does not commit that base again. */
  on?: string;
}

export interface Checkpoint {
  id: string;
  turnId: string;
  summary: string;
  time: string;
  /**
   * The layer entry of each path this checkpoint changed, as it was at the checkpoint (null: none, the path
   * shows the real file): what a rewind puts back. Absent in checkpoints written before rewind existed.
   */
  entries?: Record<string, Entry | null>;
  /** A rewind took this checkpoint's turn back: its entries no longer describe the workspace. */
  rewound?: boolean;
}

/** The persisted state of one session's layer. */
export interface Manifest {
  version: 1;
  sessionId: string;
  workspace: string;
  entries: Record<string, Entry>;
  /** Snapshots of real files the agent read: the base of a later write. */
  reads: Record<string, Base>;
  /** What a path should hold in history when the layer no longer has it (base after reject, new bytes after accept). */
  known: Record<string, Base>;
  /** What the history tip holds for the paths the session touched. */
  committed: Record<string, Blob>;
  /** Paths changed since the last checkpoint: 1 written through the view (a turn, a tool), 2 by accept, reject or undo. */
  dirty: Record<string, 1 | 2>;
  tip: string | null;
  checkpoints: Checkpoint[];
  /**
   * What each path held after the checkpoints whose entries left the rewind window (`rewindDepth`), in
   * order: the starting point a rewind within the window builds on for paths no later kept turn changed.
   */
  rewindFloor?: Record<string, Entry | null>;
  /** Accept ids, oldest first: the undo stack. */
  accepts: string[];
  /** Where small objects live in `blobs.dat`: blob id → [offset of the bytes, length]. */
  blobs: Record<string, [number, number]>;
  /** The file holding the `blobs` records (absent: `blobs.dat`); a compaction writes a new one and names it here. */
  dat?: string;
}

/** What one compaction of the object store did. */
export interface CompactStats {
  bytesBefore: number;
  bytesAfter: number;
  objectsDropped: number;
  filesRemoved: number;
  ms: number;
}

/** Test seam: called between the steps of a compaction; throwing there simulates a crash at that point. */
export type CompactStep = (step: 'dat_written' | 'manifest_written') => void | Promise<void>;

/** The manifest's maps: a save writes the keys of each that changed since the previous save. */
export const MAPS = ['entries', 'reads', 'known', 'committed', 'dirty', 'blobs'] as const;
export type MapName = (typeof MAPS)[number];

/** The manifest of a session that never saved anything. */
export function emptyManifest(sessionId: string, workspace: string): Manifest {
  return {
    version: 1,
    sessionId,
    workspace,
    entries: {},
    reads: {},
    known: {},
    committed: {},
    dirty: {},
    tip: null,
    checkpoints: [],
    accepts: [],
    blobs: {},
  };
}
