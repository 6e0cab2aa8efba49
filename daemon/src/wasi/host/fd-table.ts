// The guest's file descriptors: what each names (a node, stdin, an output stream), its WASI rights,
// flags and position. Lowest free number first, as POSIX.
import { E } from './defs.js';
import type { DirNode, FileNode, Node } from './memfs.js';

/** An output stream (stdout/stderr): the host counts and forwards what the guest writes. */
export interface OutputSink {
  write(data: Uint8Array): void;
}

interface Common {
  rightsBase: bigint;
  rightsInheriting: bigint;
  /** fdflags (APPEND, NONBLOCK, …). */
  flags: number;
}

/** An open regular file or directory. */
export interface NodeFd extends Common {
  type: 'node';
  node: Node;
  pos: number;
  /** Guest path of a preopen (fd_prestat_*); undefined for descriptors the guest opened. */
  preopen?: string;
  /** For directories: where `..` stops (itself, or the sandbox root for a preopen). */
  boundary?: DirNode;
}

/** Standard input: a fixed byte buffer. */
export interface InputFd extends Common {
  type: 'input';
  data: Uint8Array;
  pos: number;
}

/** Standard output or error. */
export interface OutputFd extends Common {
  type: 'output';
  sink: OutputSink;
}

export type FdEntry = NodeFd | InputFd | OutputFd;

/** Most descriptors a guest may hold at once. */
const MAX_FDS = 4096;

/** The descriptor table of one run. */
export class FdTable {
  private readonly slots: (FdEntry | undefined)[] = [];

  get(fd: number): FdEntry | undefined {
    return this.slots[fd];
  }

  /** Places `e` at the lowest free number (or `at`). Returns the fd, or -errno. */
  add(e: FdEntry, at?: number): number {
    if (at !== undefined) {
      this.slots[at] = e;
      return at;
    }
    let fd = 0;
    while (this.slots[fd] !== undefined) fd++;
    if (fd >= MAX_FDS) return -E.MFILE;
    this.slots[fd] = e;
    return fd;
  }

  close(fd: number): boolean {
    if (this.slots[fd] === undefined) return false;
    this.slots[fd] = undefined;
    return true;
  }

  renumber(from: number, to: number): number {
    const e = this.slots[from];
    if (e === undefined || this.slots[to] === undefined) return E.BADF;
    this.slots[to] = e;
    if (from !== to) this.slots[from] = undefined;
    return E.SUCCESS;
  }

  /** Every open regular file, for tests of the change report. */
  openFiles(): FileNode[] {
    return this.slots.flatMap((e) => (e?.type === 'node' && e.node.kind === 'file' ? [e.node] : []));
  }
}
