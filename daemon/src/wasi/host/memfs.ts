// The guest's file system: one in-memory tree of directories, files and symlinks. The guest can reach
// nothing but these objects, so the tree is safe by construction; host data enters only through
// what the worker puts in it (read-only files, some read on demand from an open host file, lazily loaded
// workspace entries).
import { E } from './defs.js';
import { hostFileFault, readHostFile, type HostFileFault, type HostFileRef } from './host-file.js';

/** Clocks and sleeping, injectable so tests never depend on time. All values in nanoseconds. */
export interface HostClock {
  realtimeNs(): bigint;
  monotonicNs(): bigint;
  /** Blocks the calling thread for `ns` (poll_oneoff with only clock subscriptions). */
  sleep(ns: bigint): void;
}

/** State shared by every node of one run: inode numbers, the clock, and the file-growth budget. */
export class FsContext {
  private ino = 1n;
  /** Bytes the guest may still add to files (ENOSPC past it). */
  budgetLeft: number;
  /** The first host file whose read was refused because it changed (the run's result reports it). */
  hostFault: HostFileFault | null = null;

  constructor(
    readonly clock: HostClock,
    budgetBytes: number,
    readonly dev = 1n,
  ) {
    this.budgetLeft = budgetBytes;
  }

  nextIno(): bigint {
    return this.ino++;
  }
}

/** Where a node came from when it mirrors an entry of a mounted view (for the change report). */
export interface ViewOrigin {
  mount: number;
  path: string;
}

abstract class BaseNode {
  readonly ino: bigint;
  atim: bigint;
  mtim: bigint;
  ctim: bigint;
  /** Names linking to it (files), 2 + subdirectories (directories), 1 (symlinks). */
  nlink = 0;

  constructor(
    readonly ctx: FsContext,
    /** Permission bits (0o644, 0o755, …). */
    public mode: number,
    /** Part of a read-only mount: every change is EROFS. */
    readonly readOnly: boolean,
    mtimeNs?: bigint,
  ) {
    this.ino = ctx.nextIno();
    const t = mtimeNs ?? ctx.clock.realtimeNs();
    this.atim = t;
    this.mtim = t;
    this.ctim = t;
  }

  /** Marks a content change (mtime and ctime now). */
  touch(): void {
    const t = this.ctx.clock.realtimeNs();
    this.mtim = t;
    this.ctim = t;
  }
}

/**
 * A regular file. Content is loaded on first use when the node has a loader (lazy workspace files), or read on
 * demand from a host file (`host`, always read-only: never copied into memory, every write refused).
 */
export class FileNode extends BaseNode {
  readonly kind = 'file';
  private readonly host: HostFileRef | null;
  private buf: Uint8Array;
  private len: number;
  /** False while `buf` is shared with someone else (a loaded original, a read-only mount): copied before a write. */
  private owned: boolean;
  /** Lazy content, or an errno (NOENT: it vanished before it was read; IO: it could not be read). */
  loader: (() => Uint8Array | number) | null = null;
  /** Why lazy content could not be loaded (0 when it was, or there was nothing to load). */
  private loadErr = 0;
  origin: ViewOrigin | null = null;
  /** The content as loaded from the view (compared with the final content for the change report). */
  original: Uint8Array | null = null;
  dirty = false;
  modeChanged = false;

  constructor(
    ctx: FsContext,
    data: Uint8Array,
    opts: { readOnly?: boolean; mode?: number; mtimeNs?: bigint; size?: number; host?: HostFileRef } = {},
  ) {
    super(ctx, opts.mode ?? 0o644, opts.host ? true : (opts.readOnly ?? false), opts.mtimeNs);
    this.host = opts.host ?? null;
    this.buf = data;
    this.len = this.host ? Number(this.host.identity.size) : (opts.size ?? data.byteLength);
    this.owned = false;
  }

  /** Loads lazy content; returns 0, or the errno the caller reports (NOENT, IO). */
  ensureLoaded(): number {
    if (!this.loader) return this.loadErr;
    const load = this.loader;
    this.loader = null;
    const data = load();
    if (typeof data === 'number') {
      this.len = 0;
      this.loadErr = data;
      return data;
    }
    this.buf = data;
    this.len = data.byteLength;
    this.original = data;
    this.owned = false;
    return E.SUCCESS;
  }

  get size(): number {
    return this.len;
  }

  /** The current content (a view; do not keep it across writes). Empty for a host file that fails its check. */
  content(): Uint8Array {
    if (this.host) {
      const data = this.read(0, this.len);
      return typeof data === 'number' ? new Uint8Array(0) : data;
    }
    this.ensureLoaded();
    return this.buf.subarray(0, this.len);
  }

  /** Up to `n` bytes at `pos`, or an errno (IO: a host file that changed since it was opened). */
  read(pos: number, n: number): Uint8Array | number {
    if (this.host) {
      const data = readHostFile(this.host, pos, n);
      if (typeof data === 'number') this.ctx.hostFault ??= hostFileFault(this.host);
      return data;
    }
    this.ensureLoaded();
    if (pos >= this.len) return new Uint8Array(0);
    return this.buf.subarray(pos, Math.min(this.len, pos + n));
  }

  /** Makes room for `size` bytes (owned, geometric growth), charging growth to the budget; returns an errno. */
  private reserve(size: number): number {
    if (this.host) return E.ROFS;
    this.ensureLoaded();
    const growth = size - this.len;
    if (growth > 0) {
      if (growth > this.ctx.budgetLeft) return E.NOSPC;
      this.ctx.budgetLeft -= growth;
    }
    if (this.owned && size <= this.buf.byteLength) return E.SUCCESS;
    let cap = Math.max(size, this.len);
    if (size > this.buf.byteLength) cap = Math.max(cap, Math.min(this.buf.byteLength * 2, size + (64 << 20)));
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.owned = true;
    return E.SUCCESS;
  }

  write(pos: number, data: Uint8Array): number {
    const end = pos + data.byteLength;
    const err = this.reserve(Math.max(end, this.len));
    if (err !== E.SUCCESS) return err;
    if (pos > this.len) this.buf.fill(0, this.len, pos);
    this.buf.set(data, pos);
    if (end > this.len) this.len = end;
    this.dirty = true;
    this.touch();
    return E.SUCCESS;
  }

  truncate(size: number): number {
    if (this.host) return E.ROFS;
    if (size > this.len) {
      const err = this.reserve(size);
      if (err !== E.SUCCESS) return err;
      this.buf.fill(0, this.len, size);
    } else {
      // Shrinking: no need to load what is cut off when everything is (O_TRUNC of a lazy file).
      if (size === 0 && this.loader) this.loader = null;
      else this.ensureLoaded();
      if (!this.owned) {
        this.buf = this.buf.slice(0, size);
        this.owned = true;
      } else this.buf.fill(0, size, this.len);
    }
    this.len = size;
    this.dirty = true;
    this.touch();
    return E.SUCCESS;
  }
}

/** A directory. Entries are loaded on first use when it has a loader (lazy workspace folders). */
export class DirNode extends BaseNode {
  readonly kind = 'dir';
  private map = new Map<string, Node>();
  parent: DirNode | null = null;
  loader: (() => Map<string, Node> | null) | null = null;
  /** Entries attached by the host (mount points): never listed as changes, never removable. */
  readonly pinned = new Map<string, Node>();
  origin: ViewOrigin | null = null;
  /** Names the view listed (the change report compares them with what is left). */
  originalNames: Set<string> | null = null;
  /** Its listing said it no longer exists. */
  gone = false;

  constructor(ctx: FsContext, opts: { readOnly?: boolean; mode?: number; mtimeNs?: bigint } = {}) {
    super(ctx, opts.mode ?? 0o755, opts.readOnly ?? false, opts.mtimeNs);
    this.nlink = 2;
  }

  get entries(): Map<string, Node> {
    if (this.loader) {
      const load = this.loader;
      this.loader = null;
      const listed = load();
      if (listed === null) this.gone = true;
      else {
        this.originalNames = new Set(listed.keys());
        for (const [name, node] of listed) if (!this.pinned.has(name)) this.adopt(name, node);
      }
    }
    return this.map;
  }

  /** Whether entries were loaded (or the directory never had a loader). */
  get loaded(): boolean {
    return this.loader === null;
  }

  private adopt(name: string, node: Node): void {
    this.map.set(name, node);
    if (node.kind === 'dir') {
      node.parent = this;
      this.nlink++;
    } else if (node.kind === 'file') node.nlink++;
  }

  /** Host-side attach of a mount point (shadows any listed entry of that name). */
  pin(name: string, node: Node): void {
    this.pinned.set(name, node);
    this.map.delete(name);
    this.adopt(name, node);
  }

  /** Guest-side link of a new entry. */
  link(name: string, node: Node): void {
    void this.entries;
    this.adopt(name, node);
    this.touch();
  }

  unlink(name: string): void {
    const node = this.entries.get(name);
    if (!node) return;
    this.map.delete(name);
    if (node.kind === 'dir') {
      this.nlink--;
      if (node.parent === this) node.parent = null;
    } else if (node.kind === 'file') node.nlink--;
    this.touch();
  }
}

/** A symbolic link; its target is resolved in the guest's own tree, never on the host. */
export class SymlinkNode extends BaseNode {
  readonly kind = 'symlink';
  origin: ViewOrigin | null = null;

  constructor(
    ctx: FsContext,
    readonly target: string,
  ) {
    super(ctx, 0o777, false);
    this.nlink = 1;
  }
}

export type Node = FileNode | DirNode | SymlinkNode;
