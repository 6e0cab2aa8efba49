// Builds a run's file tree from its mounts: one root holding every mount at its guest path
// (read-only trees, lazily loaded views of the workspace or a host folder, an empty /tmp), plus the
// preopened descriptors wasi-libc finds them by.
import { DIR_RIGHTS, E, FILE_RIGHTS } from '../host/defs.js';
import type { FdEntry } from '../host/fd-table.js';
import type { HostFileRef } from '../host/host-file.js';
import { DirNode, FileNode, type FsContext, type Node } from '../host/memfs.js';
import type { BridgeReply, ListedEntry, MountSpec } from './protocol.js';

/** Performs a synchronous bridge call (the worker blocks until the main thread answers). */
export type BridgeFn = (op: 'readdir' | 'readFile', args: { mount: number; path: string }) => BridgeReply;

/** The tree of a run and where each mount and preopen is. */
export interface BuiltTree {
  root: DirNode;
  /** Root directory node of each view mount, by mount index. */
  views: Map<number, { node: DirNode; access: 'ro' | 'rw' }>;
  preopens: FdEntry[];
}

const ms = (t: number): bigint => BigInt(Math.round(t)) * 1_000_000n;
const ALL_RIGHTS = FILE_RIGHTS | DIR_RIGHTS;

function filesTree(
  ctx: FsContext,
  files: { path: string; data: Uint8Array | SharedArrayBuffer | HostFileRef }[],
): DirNode {
  const root = new DirNode(ctx, { readOnly: true });
  for (const f of files) {
    const parts = f.path.split('/').filter((s) => s && s !== '.' && s !== '..');
    const name = parts.pop();
    if (!name) continue;
    let dir = root;
    for (const p of parts) {
      let next = dir.entries.get(p);
      if (next?.kind !== 'dir') {
        next = new DirNode(ctx, { readOnly: true });
        dir.pin(p, next);
      }
      dir = next;
    }
    // A host file is read on demand (python's stdlib); a SharedArrayBuffer is viewed, not copied.
    const node =
      f.data instanceof Uint8Array || f.data instanceof SharedArrayBuffer
        ? new FileNode(ctx, f.data instanceof Uint8Array ? f.data : new Uint8Array(f.data), {
            readOnly: true,
            mode: 0o444,
          })
        : new FileNode(ctx, new Uint8Array(0), { host: f.data, mode: 0o444 });
    dir.pin(name, node);
  }
  return root;
}

function viewNode(ctx: FsContext, bridge: BridgeFn, mount: number, path: string, e: ListedEntry | null): Node {
  const opts = e ? { mode: e.mode & 0o7777, mtimeNs: ms(e.mtimeMs) } : {};
  if (e && e.type === 'file') {
    const f = new FileNode(ctx, new Uint8Array(0), { ...opts, size: e.size });
    f.origin = { mount, path };
    f.loader = () => {
      const r = bridge('readFile', { mount, path });
      if (r.ok) return r.data ?? new Uint8Array(0);
      return r.reason === 'not_found' ? E.NOENT : E.IO;
    };
    return f;
  }
  const d = new DirNode(ctx, opts);
  d.origin = { mount, path };
  d.loader = () => {
    const r = bridge('readdir', { mount, path });
    if (!r.ok) return r.reason === 'not_found' ? null : new Map();
    const m = new Map<string, Node>();
    for (const x of r.entries ?? [])
      m.set(x.name, viewNode(ctx, bridge, mount, path ? `${path}/${x.name}` : x.name, x));
    return m;
  };
  return d;
}

/** Attaches `node` at guest path `at` below `root`, creating read-only folders on the way. */
function attach(ctx: FsContext, root: DirNode, at: string, node: Node): void {
  const parts = at.split('/').filter(Boolean);
  const name = parts.pop()!;
  let dir = root;
  for (const p of parts) {
    let next = dir.entries.get(p);
    if (next?.kind !== 'dir') {
      next = new DirNode(ctx, { readOnly: true });
      dir.pin(p, next);
    }
    dir = next;
  }
  dir.pin(name, node);
}

/** Builds the tree; preopens follow the mounts' order, then `/` (cwd '/', when anything is mounted) or `.` (any other cwd). */
export function buildTree(ctx: FsContext, mounts: MountSpec[], cwd: string, bridge: BridgeFn): BuiltTree {
  const views = new Map<number, { node: DirNode; access: 'ro' | 'rw' }>();
  const nodes = mounts.map((m): DirNode => {
    if (m.kind === 'files') return filesTree(ctx, m.files);
    if (m.kind === 'tmp') return new DirNode(ctx, { mode: 0o1777 });
    const node = viewNode(ctx, bridge, m.index, '', null) as DirNode;
    views.set(m.index, { node, access: m.access });
    return node;
  });
  const rootIdx = mounts.findIndex((m) => m.at === '/');
  const root = rootIdx >= 0 ? nodes[rootIdx] : new DirNode(ctx, { readOnly: true });
  // Shallow mount points first, so a deeper one is attached inside the shallower.
  const order = mounts.map((m, i) => i).filter((i) => i !== rootIdx);
  order.sort((a, b) => mounts[a].at.split('/').length - mounts[b].at.split('/').length);
  for (const i of order) attach(ctx, root, mounts[i].at, nodes[i]);

  const preopen = (path: string, node: DirNode): FdEntry => ({
    type: 'node',
    node,
    pos: 0,
    flags: 0,
    rightsBase: DIR_RIGHTS,
    rightsInheriting: ALL_RIGHTS,
    preopen: path,
    // `..` from a preopen may climb to the sandbox root (all of it is the guest's own view).
    boundary: root,
  });
  const preopens = mounts.map((m, i) => preopen(m.at, nodes[i]));
  if (cwd === '/') {
    // Nothing mounted, nothing to see: no root preopen then (the WASI test suite expects none).
    if (rootIdx < 0 && mounts.length > 0) preopens.push(preopen('/', root));
  } else {
    let dir: Node | undefined = root;
    for (const p of cwd.split('/').filter(Boolean)) dir = dir?.kind === 'dir' ? dir.entries.get(p) : undefined;
    if (dir?.kind === 'dir') preopens.push(preopen('.', dir));
  }
  return { root, views, preopens };
}
