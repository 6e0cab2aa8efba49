// WASI calls on paths: open, create, link, rename, remove, symlinks, stat. Every path is resolved
// in the guest's own tree (resolve.ts); nothing here can name a host path.
import { DIR_RIGHTS, E, FILE_RIGHTS, LOOKUP_SYMLINK_FOLLOW, O, R } from './defs.js';
import { setTimes } from './calls-fd.js';
import type { HostCore } from './host-core.js';
import { DirNode, FileNode, SymlinkNode, type Node } from './memfs.js';
import { lookup, type Lookup } from './resolve.js';

type Fn = (...args: never[]) => number;

/** Whether `a` is `b` or one of its ancestors (a directory cannot move into itself). */
function isAncestor(a: DirNode, b: DirNode): boolean {
  for (let d: DirNode | null = b; d; d = d.parent) if (d === a) return true;
  return false;
}

/** path_* calls. */
export function pathCalls(core: HostCore): Record<string, Fn> {
  /** Resolves (fd, path) with `right` on fd; returns the lookup or an errno. */
  const at = (fd: number, ptr: number, len: number, right: bigint, follow: boolean): Lookup | number => {
    const d = core.dirBase(fd, right);
    if (typeof d === 'number') return d;
    const path = core.str(ptr, len);
    if (path === null) return E.ILSEQ;
    return lookup(d.base, path, follow);
  };
  const writable = (dir: DirNode, name: string): number => {
    if (dir.readOnly) return E.ROFS;
    if (dir.pinned.has(name)) return E.PERM;
    return E.SUCCESS;
  };

  return {
    path_create_directory(fd: number, ptr: number, len: number): number {
      const l = at(fd, ptr, len, R.PATH_CREATE_DIRECTORY, false);
      if (typeof l === 'number') return l;
      if (l.node) return E.EXIST;
      if (l.dir.readOnly) return E.ROFS;
      l.dir.link(l.name, new DirNode(core.ctx));
      return E.SUCCESS;
    },
    path_filestat_get(fd: number, flags: number, ptr: number, len: number, out: number): number {
      const l = at(fd, ptr, len, R.PATH_FILESTAT_GET, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (typeof l === 'number') return l;
      if (!l.node) return E.NOENT;
      if (l.slash && l.node.kind === 'file') return E.NOTDIR;
      core.writeFilestat(out, l.node);
      return E.SUCCESS;
    },
    path_filestat_set_times(
      fd: number,
      flags: number,
      ptr: number,
      len: number,
      atim: bigint,
      mtim: bigint,
      fst: number,
    ): number {
      const l = at(fd, ptr, len, R.PATH_FILESTAT_SET_TIMES, (flags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (typeof l === 'number') return l;
      if (!l.node) return E.NOENT;
      if (l.slash && l.node.kind === 'file') return E.NOTDIR;
      return setTimes(core, l.node, atim, mtim, fst);
    },
    path_link(
      oldFd: number,
      oldFlags: number,
      oldPtr: number,
      oldLen: number,
      newFd: number,
      newPtr: number,
      newLen: number,
    ): number {
      const src = at(oldFd, oldPtr, oldLen, R.PATH_LINK_SOURCE, (oldFlags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (typeof src === 'number') return src;
      const dst = at(newFd, newPtr, newLen, R.PATH_LINK_TARGET, false);
      if (typeof dst === 'number') return dst;
      if (!src.node) return E.NOENT;
      if (src.node.kind === 'dir') return E.PERM;
      if (src.slash) return E.NOTDIR;
      if (dst.node) return E.EXIST;
      if (dst.slash) return E.NOENT;
      const w = writable(dst.dir, dst.name);
      if (w !== E.SUCCESS) return w;
      // A file of a read-only mount is on another file system than anywhere it could be linked, as across real
      // mounts: EXDEV. Otherwise one link to a 7 MB stdlib file per name in /workspace would each become a full write
      // to the workspace that the guest's file budget never paid for.
      if (src.node.readOnly) return E.XDEV;
      if (src.node.kind === 'file') {
        const err = src.node.ensureLoaded();
        if (err !== E.SUCCESS) return err;
      }
      dst.dir.link(dst.name, src.node);
      src.node.ctim = core.ctx.clock.realtimeNs();
      return E.SUCCESS;
    },
    path_open(
      fd: number,
      dirFlags: number,
      ptr: number,
      len: number,
      oflags: number,
      base: bigint,
      inheriting: bigint,
      fdflags: number,
      out: number,
    ): number {
      const d = core.dirBase(fd, R.PATH_OPEN);
      if (typeof d === 'number') return d;
      if (oflags & O.CREAT && (d.e.rightsBase & R.PATH_CREATE_FILE) === 0n) return E.NOTCAPABLE;
      if (oflags & O.TRUNC && (d.e.rightsBase & R.PATH_FILESTAT_SET_SIZE) === 0n) return E.PERM;
      const path = core.str(ptr, len);
      if (path === null) return E.ILSEQ;
      const l = lookup(d.base, path, (dirFlags & LOOKUP_SYMLINK_FOLLOW) !== 0);
      if (typeof l === 'number') return l;
      let node: Node | undefined = l.node;
      const wantWrite = (base & (R.FD_WRITE | R.FD_ALLOCATE | R.FD_FILESTAT_SET_SIZE)) !== 0n;
      if (node) {
        if (oflags & O.CREAT && oflags & O.EXCL) return E.EXIST;
        if (node.kind === 'symlink') return oflags & O.DIRECTORY ? E.NOTDIR : E.LOOP;
        if (oflags & O.DIRECTORY && node.kind !== 'dir') return E.NOTDIR;
        if (node.kind === 'file' && l.slash) return E.NOTDIR;
        if (node.kind === 'dir' && (oflags & O.TRUNC || (base & R.FD_WRITE) !== 0n)) return E.ISDIR;
        // A folder that vanished before the guest listed it cannot be opened (it is not an empty one).
        if (node.kind === 'dir' && (void node.entries, node.gone)) return E.NOENT;
        if (node.kind === 'file') {
          if (node.readOnly && (wantWrite || oflags & O.TRUNC)) return E.ROFS;
          if (oflags & O.TRUNC) {
            const err = node.truncate(0);
            if (err !== E.SUCCESS) return err;
          } else {
            const err = node.ensureLoaded();
            if (err !== E.SUCCESS) return err;
          }
        }
      } else {
        if (!(oflags & O.CREAT)) return E.NOENT;
        if (l.slash || oflags & O.DIRECTORY) return l.slash ? E.ISDIR : E.INVAL;
        if (l.name === '.') return E.ISDIR;
        if (l.dir.readOnly) return E.ROFS;
        if (l.dir.gone) return E.NOENT;
        node = new FileNode(core.ctx, new Uint8Array(0));
        l.dir.link(l.name, node);
      }
      const isDir = node.kind === 'dir';
      const mask = isDir ? DIR_RIGHTS : FILE_RIGHTS;
      const rightsBase = base & d.e.rightsInheriting & mask;
      const rightsInheriting = inheriting & d.e.rightsInheriting;
      const n = core.fds.add({ type: 'node', node, pos: 0, flags: fdflags, rightsBase, rightsInheriting });
      if (n < 0) return -n;
      core.view.setUint32(out, n, true);
      return E.SUCCESS;
    },
    path_readlink(fd: number, ptr: number, len: number, buf: number, bufLen: number, usedPtr: number): number {
      const l = at(fd, ptr, len, R.PATH_READLINK, false);
      if (typeof l === 'number') return l;
      if (!l.node) return E.NOENT;
      if (l.node.kind !== 'symlink') return E.INVAL;
      const t = Buffer.from(l.node.target);
      const n = Math.min(t.byteLength, bufLen >>> 0);
      core.bytes.set(t.subarray(0, n), buf >>> 0);
      core.view.setUint32(usedPtr, n, true);
      return E.SUCCESS;
    },
    path_remove_directory(fd: number, ptr: number, len: number): number {
      const l = at(fd, ptr, len, R.PATH_REMOVE_DIRECTORY, false);
      if (typeof l === 'number') return l;
      if (!l.node) return E.NOENT;
      if (l.name === '.') return l.node === core.root ? E.PERM : E.INVAL;
      if (l.node.kind !== 'dir') return E.NOTDIR;
      if (l.node.entries.size > 0) return E.NOTEMPTY;
      const w = writable(l.dir, l.name);
      if (w !== E.SUCCESS) return w;
      l.dir.unlink(l.name);
      return E.SUCCESS;
    },
    path_rename(fd: number, oldPtr: number, oldLen: number, newFd: number, newPtr: number, newLen: number): number {
      const src = at(fd, oldPtr, oldLen, R.PATH_RENAME_SOURCE, false);
      if (typeof src === 'number') return src;
      const dst = at(newFd, newPtr, newLen, R.PATH_RENAME_TARGET, false);
      if (typeof dst === 'number') return dst;
      const node = src.node;
      if (!node) return E.NOENT;
      if (src.name === '.' || dst.name === '.') return E.BUSY;
      if (node.kind !== 'dir' && (src.slash || dst.slash)) return E.NOTDIR;
      const w = writable(src.dir, src.name);
      if (w !== E.SUCCESS) return w;
      const w2 = writable(dst.dir, dst.name);
      if (w2 !== E.SUCCESS) return w2;
      if (dst.dir.gone) return E.NOENT;
      const target = dst.node;
      if (target === node) return E.SUCCESS;
      if (node.kind === 'dir') {
        if (isAncestor(node, dst.dir)) return E.INVAL;
        if (target && target.kind !== 'dir') return E.NOTDIR;
        if (target && target.kind === 'dir' && target.entries.size > 0) return E.NOTEMPTY;
      } else if (target?.kind === 'dir') return E.ISDIR;
      if (target) dst.dir.unlink(dst.name);
      src.dir.unlink(src.name);
      dst.dir.link(dst.name, node);
      node.ctim = core.ctx.clock.realtimeNs();
      return E.SUCCESS;
    },
    path_symlink(oldPtr: number, oldLen: number, fd: number, newPtr: number, newLen: number): number {
      const target = core.str(oldPtr, oldLen);
      if (target === null) return E.ILSEQ;
      if (target.includes('\0')) return E.INVAL;
      // As wasmtime: an absolute target could only name something outside the descriptor's subtree.
      if (target.startsWith('/')) return E.PERM;
      const l = at(fd, newPtr, newLen, R.PATH_SYMLINK, false);
      if (typeof l === 'number') return l;
      if (l.node) return E.EXIST;
      if (l.slash) return E.NOENT;
      if (l.dir.readOnly) return E.ROFS;
      if (l.dir.gone) return E.NOENT;
      l.dir.link(l.name, new SymlinkNode(core.ctx, target));
      return E.SUCCESS;
    },
    path_unlink_file(fd: number, ptr: number, len: number): number {
      const l = at(fd, ptr, len, R.PATH_UNLINK_FILE, false);
      if (typeof l === 'number') return l;
      if (!l.node) return E.NOENT;
      if (l.node.kind === 'dir') return E.ISDIR;
      if (l.slash) return E.NOTDIR;
      const w = writable(l.dir, l.name);
      if (w !== E.SUCCESS) return w;
      l.dir.unlink(l.name);
      if (l.node.kind === 'file') l.node.ctim = core.ctx.clock.realtimeNs();
      return E.SUCCESS;
    },
  };
}
