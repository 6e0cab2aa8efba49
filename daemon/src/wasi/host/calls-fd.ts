// WASI calls on open descriptors: read/write/seek, stat, flags, rights, directory listing, close.
import { DIRENT_SIZE, E, FDF, FDSTAT_SIZE, FST, FT, R, WHENCE } from './defs.js';
import type { NodeFd } from './fd-table.js';
import { fileType, type HostCore } from './host-core.js';
import type { Node } from './memfs.js';

type Fn = (...args: never[]) => number;

/** Applies fd/path_filestat_set_times flags to a node; returns an errno. */
export function setTimes(core: HostCore, node: Node, atim: bigint, mtim: bigint, fst: number): number {
  if ((fst & FST.ATIM && fst & FST.ATIM_NOW) || (fst & FST.MTIM && fst & FST.MTIM_NOW)) return E.INVAL;
  if (fst & ~(FST.ATIM | FST.ATIM_NOW | FST.MTIM | FST.MTIM_NOW)) return E.INVAL;
  if (node.readOnly) return E.ROFS;
  const now = core.ctx.clock.realtimeNs();
  if (fst & FST.ATIM) node.atim = BigInt.asUintN(64, atim);
  else if (fst & FST.ATIM_NOW) node.atim = now;
  if (fst & FST.MTIM) node.mtim = BigInt.asUintN(64, mtim);
  else if (fst & FST.MTIM_NOW) node.mtim = now;
  if (fst !== 0) node.ctim = now;
  return E.SUCCESS;
}

/** fd_* calls. */
export function fdCalls(core: HostCore): Record<string, Fn> {
  const fileFd = (fd: number, right: bigint): NodeFd | number => {
    const e = core.fds.get(fd);
    if (!e) return E.BADF;
    if (e.type !== 'node') return E.BADF;
    if (e.node.kind === 'dir') return E.ISDIR;
    if ((e.rightsBase & right) === 0n) return right === R.FD_READ || right === R.FD_WRITE ? E.BADF : E.NOTCAPABLE;
    return e;
  };

  const readInto = (data: Uint8Array, iovs: Uint8Array[]): number => {
    let n = 0;
    for (const iov of iovs) {
      if (n >= data.byteLength) break;
      const k = Math.min(iov.byteLength, data.byteLength - n);
      iov.set(data.subarray(n, n + k));
      n += k;
    }
    return n;
  };
  const gather = (iovs: Uint8Array[]): Uint8Array => {
    if (iovs.length === 1) return iovs[0].slice();
    return Buffer.concat(iovs);
  };

  return {
    fd_advise(fd: number, _off: bigint, _len: bigint, advice: number): number {
      const e = fileFd(fd, R.FD_ADVISE);
      if (typeof e === 'number') return e === E.ISDIR ? E.BADF : e;
      return advice >= 0 && advice <= 5 ? E.SUCCESS : E.INVAL;
    },
    fd_allocate(fd: number, off: bigint, len: bigint): number {
      const e = fileFd(fd, R.FD_ALLOCATE);
      if (typeof e === 'number') return e;
      const end = off + len;
      if (end > BigInt(Number.MAX_SAFE_INTEGER)) return E.FBIG;
      const file = e.node as Extract<Node, { kind: 'file' }>;
      if (file.readOnly) return E.ROFS;
      return Number(end) > file.size ? file.truncate(Number(end)) : E.SUCCESS;
    },
    fd_close(fd: number): number {
      return core.fds.close(fd) ? E.SUCCESS : E.BADF;
    },
    fd_datasync(fd: number): number {
      const e = fileFd(fd, R.FD_DATASYNC);
      return typeof e === 'number' ? (e === E.ISDIR ? E.BADF : e) : E.SUCCESS;
    },
    fd_sync(fd: number): number {
      const e = core.entry(fd);
      return typeof e === 'number' ? e : E.SUCCESS;
    },
    fd_fdstat_get(fd: number, ptr: number): number {
      const e = core.entry(fd);
      if (typeof e === 'number') return e;
      const v = core.view;
      core.bytes.fill(0, ptr >>> 0, (ptr >>> 0) + FDSTAT_SIZE);
      v.setUint8(ptr, e.type === 'node' ? fileType(e.node) : FT.CHARACTER_DEVICE);
      v.setUint16(ptr + 2, e.flags, true);
      v.setBigUint64(ptr + 8, e.rightsBase, true);
      v.setBigUint64(ptr + 16, e.rightsInheriting, true);
      return E.SUCCESS;
    },
    fd_fdstat_set_flags(fd: number, flags: number): number {
      const e = core.entry(fd);
      if (typeof e === 'number') return e;
      if ((e.rightsBase & R.FD_FDSTAT_SET_FLAGS) === 0n) return E.NOTCAPABLE;
      if (flags & ~(FDF.APPEND | FDF.NONBLOCK | FDF.DSYNC | FDF.RSYNC | FDF.SYNC)) return E.INVAL;
      // Synchronous-I/O flags change nothing in memory; keep what the guest asked for.
      e.flags = flags;
      return E.SUCCESS;
    },
    fd_fdstat_set_rights(fd: number, base: bigint, inheriting: bigint): number {
      const e = core.entry(fd);
      if (typeof e === 'number') return e;
      if ((base & ~e.rightsBase) !== 0n || (inheriting & ~e.rightsInheriting) !== 0n) return E.NOTCAPABLE;
      e.rightsBase = base;
      e.rightsInheriting = inheriting;
      return E.SUCCESS;
    },
    fd_filestat_get(fd: number, ptr: number): number {
      const e = core.entry(fd);
      if (typeof e === 'number') return e;
      if (e.type !== 'node') {
        core.bytes.fill(0, ptr >>> 0, (ptr >>> 0) + 64);
        core.view.setUint8(ptr + 16, FT.CHARACTER_DEVICE);
        core.view.setBigUint64(ptr + 24, 1n, true);
        return E.SUCCESS;
      }
      if ((e.rightsBase & R.FD_FILESTAT_GET) === 0n) return E.NOTCAPABLE;
      core.writeFilestat(ptr, e.node);
      return E.SUCCESS;
    },
    fd_filestat_set_size(fd: number, size: bigint): number {
      const e = fileFd(fd, R.FD_FILESTAT_SET_SIZE);
      if (typeof e === 'number') return e;
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) return E.FBIG;
      const file = e.node as Extract<Node, { kind: 'file' }>;
      if (file.readOnly) return E.ROFS;
      return file.truncate(Number(size));
    },
    fd_filestat_set_times(fd: number, atim: bigint, mtim: bigint, fst: number): number {
      const e = core.nodeFd(fd);
      if (typeof e === 'number') return e;
      if ((e.rightsBase & R.FD_FILESTAT_SET_TIMES) === 0n) return E.NOTCAPABLE;
      return setTimes(core, e.node, atim, mtim, fst);
    },
    fd_pread(fd: number, iovPtr: number, iovCnt: number, off: bigint, nreadPtr: number): number {
      const e = fileFd(fd, R.FD_READ);
      if (typeof e === 'number') return e;
      if (off > BigInt(Number.MAX_SAFE_INTEGER)) return E.INVAL;
      const file = e.node as Extract<Node, { kind: 'file' }>;
      const iovs = core.iovs(iovPtr, iovCnt);
      const want = iovs.reduce((n, b) => n + b.byteLength, 0);
      const data = file.read(Number(off), want);
      if (typeof data === 'number') return data;
      const n = readInto(data, iovs);
      core.view.setUint32(nreadPtr, n, true);
      return E.SUCCESS;
    },
    fd_pwrite(fd: number, iovPtr: number, iovCnt: number, off: bigint, nwrittenPtr: number): number {
      const e = fileFd(fd, R.FD_WRITE);
      if (typeof e === 'number') return e;
      if (off > BigInt(Number.MAX_SAFE_INTEGER)) return E.INVAL;
      const file = e.node as Extract<Node, { kind: 'file' }>;
      if (file.readOnly) return E.ROFS;
      const data = gather(core.iovs(iovPtr, iovCnt));
      // As Linux: pwrite on an O_APPEND descriptor appends, whatever the offset.
      const at = e.flags & FDF.APPEND ? file.size : Number(off);
      const err = file.write(at, data);
      if (err !== E.SUCCESS) return err;
      core.view.setUint32(nwrittenPtr, data.byteLength, true);
      return E.SUCCESS;
    },
    fd_read(fd: number, iovPtr: number, iovCnt: number, nreadPtr: number): number {
      const e = core.fds.get(fd);
      if (!e) return E.BADF;
      if (e.type === 'output') return E.BADF;
      const iovs = core.iovs(iovPtr, iovCnt);
      const want = iovs.reduce((n, b) => n + b.byteLength, 0);
      if (e.type === 'input') {
        if ((e.rightsBase & R.FD_READ) === 0n) return E.BADF;
        const n = readInto(e.data.subarray(e.pos, e.pos + want), iovs);
        e.pos += n;
        core.view.setUint32(nreadPtr, n, true);
        return E.SUCCESS;
      }
      const f = fileFd(fd, R.FD_READ);
      if (typeof f === 'number') return f;
      const file = f.node as Extract<Node, { kind: 'file' }>;
      const data = file.read(f.pos, want);
      if (typeof data === 'number') return data;
      const n = readInto(data, iovs);
      f.pos += n;
      core.view.setUint32(nreadPtr, n, true);
      return E.SUCCESS;
    },
    fd_write(fd: number, iovPtr: number, iovCnt: number, nwrittenPtr: number): number {
      const e = core.fds.get(fd);
      if (!e) return E.BADF;
      if (e.type === 'input') return E.BADF;
      if (e.type === 'output') {
        if ((e.rightsBase & R.FD_WRITE) === 0n) return E.BADF;
        const data = gather(core.iovs(iovPtr, iovCnt));
        e.sink.write(data);
        core.view.setUint32(nwrittenPtr, data.byteLength, true);
        return E.SUCCESS;
      }
      const f = fileFd(fd, R.FD_WRITE);
      if (typeof f === 'number') return f;
      const file = f.node as Extract<Node, { kind: 'file' }>;
      if (file.readOnly) return E.ROFS;
      const data = gather(core.iovs(iovPtr, iovCnt));
      if (f.flags & FDF.APPEND) f.pos = file.size;
      const err = file.write(f.pos, data);
      if (err !== E.SUCCESS) return err;
      f.pos += data.byteLength;
      core.view.setUint32(nwrittenPtr, data.byteLength, true);
      return E.SUCCESS;
    },
    fd_seek(fd: number, off: bigint, whence: number, newPtr: number): number {
      const e = core.fds.get(fd);
      if (!e) return E.BADF;
      if (e.type !== 'node') return E.SPIPE;
      if (e.node.kind === 'dir') return E.BADF;
      const right = off === 0n && whence === WHENCE.CUR ? R.FD_TELL | R.FD_SEEK : R.FD_SEEK;
      if ((e.rightsBase & right) === 0n) return E.NOTCAPABLE;
      const file = e.node as Extract<Node, { kind: 'file' }>;
      const from =
        whence === WHENCE.SET
          ? 0n
          : whence === WHENCE.CUR
            ? BigInt(e.pos)
            : whence === WHENCE.END
              ? BigInt(file.size)
              : -1n;
      if (from < 0n) return E.INVAL;
      const next = from + BigInt.asIntN(64, off);
      if (next < 0n) return E.INVAL;
      if (next > BigInt(Number.MAX_SAFE_INTEGER)) return E.OVERFLOW;
      e.pos = Number(next);
      core.view.setBigUint64(newPtr, next, true);
      return E.SUCCESS;
    },
    fd_tell(fd: number, ptr: number): number {
      const e = core.fds.get(fd);
      if (!e) return E.BADF;
      if (e.type !== 'node') return E.SPIPE;
      if (e.node.kind === 'dir') return E.BADF;
      if ((e.rightsBase & R.FD_TELL) === 0n) return E.NOTCAPABLE;
      core.view.setBigUint64(ptr, BigInt(e.pos), true);
      return E.SUCCESS;
    },
    fd_readdir(fd: number, buf: number, len: number, cookie: bigint, usedPtr: number): number {
      const e = core.nodeFd(fd);
      if (typeof e === 'number') return e;
      if (e.node.kind !== 'dir') return E.NOTDIR;
      if ((e.rightsBase & R.FD_READDIR) === 0n) return E.NOTCAPABLE;
      const dir = e.node;
      const list: [string, Node][] = [
        ['.', dir],
        ['..', dir === (e.boundary ?? dir) || !dir.parent ? dir : dir.parent],
        ...dir.entries,
      ];
      buf >>>= 0;
      len >>>= 0;
      const mem = core.bytes;
      const v = core.view;
      let used = 0;
      const header = new Uint8Array(DIRENT_SIZE);
      const hv = new DataView(header.buffer);
      for (let i = Number(cookie); i < list.length && used < len; i++) {
        const [name, node] = list[i];
        const nameBytes = Buffer.from(name);
        hv.setBigUint64(0, BigInt(i + 1), true);
        hv.setBigUint64(8, node.ino, true);
        hv.setUint32(16, nameBytes.byteLength, true);
        hv.setUint8(20, fileType(node));
        const rec = Buffer.concat([header, nameBytes]);
        const k = Math.min(rec.byteLength, len - used);
        mem.set(rec.subarray(0, k), buf + used);
        used += k;
      }
      v.setUint32(usedPtr, used, true);
      return E.SUCCESS;
    },
    fd_renumber(from: number, to: number): number {
      return core.fds.renumber(from, to);
    },
    fd_prestat_get(fd: number, ptr: number): number {
      const e = core.fds.get(fd);
      if (!e) return E.BADF;
      if (e.type !== 'node' || e.preopen === undefined) return E.BADF;
      core.view.setUint32(ptr, 0, true);
      core.view.setUint32(ptr + 4, Buffer.byteLength(e.preopen), true);
      return E.SUCCESS;
    },
    fd_prestat_dir_name(fd: number, ptr: number, len: number): number {
      const e = core.fds.get(fd);
      if (!e) return E.BADF;
      if (e.type !== 'node' || e.preopen === undefined) return E.BADF;
      const name = Buffer.from(e.preopen);
      if (len >>> 0 < name.byteLength) return E.NAMETOOLONG;
      core.bytes.set(name, ptr >>> 0);
      return E.SUCCESS;
    },
  };
}
