// What every WASI call shares: guest memory access, the descriptor table, the tree's root and the
// run's clock. Calls return errnos; they throw only to end the run (proc_exit, output limit).
import { E, FILESTAT_SIZE, FT } from './defs.js';
import type { FdEntry, FdTable, NodeFd } from './fd-table.js';
import type { DirNode, FsContext, Node } from './memfs.js';
import type { LookupBase } from './resolve.js';
import type { WasmMemory } from './wasm-api.js';

/** proc_exit: unwinds the guest with its exit code. */
export class ProcExit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Shared state and helpers of one run's WASI implementation. */
export class HostCore {
  memory: WasmMemory | null = null;

  constructor(
    readonly fds: FdTable,
    readonly root: DirNode,
    readonly ctx: FsContext,
  ) {}

  get view(): DataView {
    return new DataView(this.memory!.buffer);
  }

  get bytes(): Uint8Array {
    return new Uint8Array(this.memory!.buffer);
  }

  /** Reads a guest string; null when it is not valid UTF-8 (→ ILSEQ). */
  str(ptr: number, len: number): string | null {
    try {
      return utf8.decode(this.bytes.subarray(ptr >>> 0, (ptr >>> 0) + (len >>> 0)));
    } catch {
      return null;
    }
  }

  /** The iovecs at `ptr` as views into guest memory. */
  iovs(ptr: number, n: number): Uint8Array[] {
    const v = this.view;
    const out: Uint8Array[] = [];
    for (let i = 0; i < n >>> 0; i++) {
      const buf = v.getUint32((ptr >>> 0) + i * 8, true);
      const len = v.getUint32((ptr >>> 0) + i * 8 + 4, true);
      out.push(new Uint8Array(this.memory!.buffer, buf, len));
    }
    return out;
  }

  /** A descriptor that must exist. */
  entry(fd: number): FdEntry | number {
    return this.fds.get(fd) ?? E.BADF;
  }

  /** A descriptor naming a node (file or directory). */
  nodeFd(fd: number): NodeFd | number {
    const e = this.fds.get(fd);
    if (!e) return E.BADF;
    if (e.type !== 'node') return E.BADF;
    return e;
  }

  /** A directory descriptor with `right`, as a lookup base. */
  dirBase(fd: number, right: bigint): { e: NodeFd; base: LookupBase } | number {
    const e = this.fds.get(fd);
    if (!e) return E.BADF;
    if (e.type !== 'node' || e.node.kind !== 'dir') return E.NOTDIR;
    if ((e.rightsBase & right) === 0n) return E.NOTCAPABLE;
    return { e, base: { start: e.node, boundary: e.boundary ?? e.node, root: this.root } };
  }

  /** Writes a filestat for `node` at `ptr`. */
  writeFilestat(ptr: number, node: Node): void {
    const v = this.view;
    ptr >>>= 0;
    this.bytes.fill(0, ptr, ptr + FILESTAT_SIZE);
    v.setBigUint64(ptr, this.ctx.dev, true);
    v.setBigUint64(ptr + 8, node.ino, true);
    v.setUint8(ptr + 16, fileType(node));
    v.setBigUint64(ptr + 24, BigInt(node.nlink), true);
    v.setBigUint64(ptr + 32, BigInt(sizeOf(node)), true);
    v.setBigUint64(ptr + 40, node.atim, true);
    v.setBigUint64(ptr + 48, node.mtim, true);
    v.setBigUint64(ptr + 56, node.ctim, true);
  }
}

/** The WASI filetype of a node. */
export function fileType(node: Node): number {
  return node.kind === 'file' ? FT.REGULAR_FILE : node.kind === 'dir' ? FT.DIRECTORY : FT.SYMBOLIC_LINK;
}

/** st_size: bytes for files, the target's length for symlinks, a nominal 4096 for directories. */
export function sizeOf(node: Node): number {
  if (node.kind === 'file') return node.size;
  if (node.kind === 'symlink') return Buffer.byteLength(node.target);
  return 4096;
}
