// Read-only guest files served from an open host file: the guest sees exactly what it saw when the bytes were held
// in memory (sizes, stat, seek, reads past the end, pread, EROFS/EBADF on writes), and a file that changes after it
// was opened is never served (EIO, and the run's hostFault says which file).
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildTree } from '../worker/tree.js';
import { E, FILE_RIGHTS, O, R, WHENCE } from './defs.js';
import { FdTable } from './fd-table.js';
import { closeHostFile, hostFileUnchanged, openHostFile, readHostFile, type HostFileRef } from './host-file.js';
import { FsContext, type HostClock } from './memfs.js';
import { createWasiHost } from './wasi-host.js';
import { wasm } from './wasm-api.js';

const BYTES = Buffer.from('0123456789abcdefghij');
const clock: HostClock = {
  realtimeNs: () => 1_767_000_000_000_000_000n,
  monotonicNs: () => 1n,
  sleep: () => undefined,
};

let dir: string;
let file: string;
const opened: HostFileRef[] = [];
const open = (p = file): HostFileRef => {
  const ref = openHostFile(p, 'lib/f');
  opened.push(ref);
  return ref;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sb-hostfile-'));
  file = join(dir, 'f');
  writeFileSync(file, BYTES);
  chmodSync(file, 0o444);
});
afterEach(() => {
  for (const r of opened.splice(0)) closeHostFile(r);
  rmSync(dir, { recursive: true, force: true });
});

/** A run's host with `data` at /usr/local/lib/f (a read-only files mount, as python's /usr/local). */
function guest(data: Uint8Array | HostFileRef) {
  const ctx = new FsContext(clock, 1 << 20);
  const tree = buildTree(ctx, [{ kind: 'files', at: '/usr/local', files: [{ path: 'lib/f', data }] }], '/', () => ({
    ok: false,
  }));
  const fds = new FdTable();
  for (let i = 0; i < 3; i++)
    fds.add({ type: 'input', data: new Uint8Array(0), pos: 0, flags: 0, rightsBase: 0n, rightsInheriting: 0n });
  for (const p of tree.preopens) fds.add(p);
  const memory = new wasm.Memory({ initial: 1 });
  const host = createWasiHost({ args: ['t'], env: [], fds, root: tree.root, ctx });
  host.bind({ exports: { memory } });
  const v = () => new DataView(memory.buffer);
  const call = (name: string, ...args: (number | bigint)[]): number =>
    (host.imports[name] as unknown as (...a: (number | bigint)[]) => number)(...args);
  const path = (s: string): [number, number] => {
    const b = Buffer.from(s);
    new Uint8Array(memory.buffer).set(b, 1000);
    return [1000, b.byteLength];
  };
  /** fd 3 is the preopen of /usr/local. */
  const openFile = (oflags = 0, rights = FILE_RIGHTS & ~(R.FD_WRITE | R.FD_FILESTAT_SET_SIZE | R.FD_ALLOCATE)) => {
    const err = call('path_open', 3, 0, ...path('lib/f'), oflags, rights, 0n, 0, 2000);
    return err === E.SUCCESS ? v().getUint32(2000, true) : -err;
  };
  /** Reads up to `n` bytes into 5000 (iovec at 400): [errno, the bytes]. */
  const read = (fd: number, n: number, at?: bigint): [number, string] => {
    v().setUint32(400, 5000, true);
    v().setUint32(404, n, true);
    const err = at === undefined ? call('fd_read', fd, 400, 1, 410) : call('fd_pread', fd, 400, 1, at, 410);
    const got = err === E.SUCCESS ? v().getUint32(410, true) : 0;
    return [err, Buffer.from(new Uint8Array(memory.buffer, 5000, got)).toString()];
  };
  const filestat = (err: number) => ({
    err,
    type: v().getUint8(3016),
    nlink: v().getBigUint64(3024, true),
    size: v().getBigUint64(3032, true),
    mtim: v().getBigUint64(3048, true),
  });
  return { ctx, call, v, path, openFile, read, filestat };
}

/** What the guest observes of lib/f through every call that touches a file's bytes, size or writability. */
function observe(data: Uint8Array | HostFileRef): unknown[] {
  const g = guest(data);
  const out: unknown[] = [];
  out.push(g.filestat(g.call('path_filestat_get', 3, 0, ...g.path('lib/f'), 3000)));
  out.push(g.openFile(0, FILE_RIGHTS), g.openFile(O.TRUNC), g.openFile(O.CREAT | O.EXCL));
  const fd = g.openFile();
  out.push(g.read(fd, 5), g.read(fd, 3));
  out.push(g.call('fd_seek', fd, -3n, WHENCE.END, 420), g.v().getBigUint64(420, true));
  out.push(g.read(fd, 10), g.read(fd, 10));
  out.push(g.call('fd_seek', fd, 100n, WHENCE.SET, 420), g.read(fd, 4));
  out.push(g.read(fd, 4, 2n), g.read(fd, 100, 15n), g.read(fd, 4, 20n), g.read(fd, 4, 1000n));
  out.push(g.call('fd_tell', fd, 420), g.v().getBigUint64(420, true));
  out.push(g.call('fd_write', fd, 400, 1, 410), g.call('fd_pwrite', fd, 400, 1, 0n, 410));
  out.push(g.call('fd_filestat_set_size', fd, 0n), g.call('fd_allocate', fd, 0n, 100n));
  out.push(g.filestat(g.call('fd_filestat_get', fd, 3000)));
  out.push(g.call('path_unlink_file', 3, ...g.path('lib/f')));
  out.push(g.call('fd_close', fd), g.read(fd, 1));
  return out;
}

describe('a read-only file served from an open host file', () => {
  it('is observed exactly as the same bytes held in memory', () => {
    const inMemory = observe(new Uint8Array(BYTES));
    expect(observe(open())).toEqual(inMemory);
    // Spot checks that the script saw what it should (not two identical failures).
    expect(inMemory[4]).toEqual([E.SUCCESS, '01234']);
    expect(inMemory[1]).toBe(-E.ROFS);
    expect(inMemory[0]).toMatchObject({ err: E.SUCCESS, size: 20n });
  });

  it('refuses a symlink, a folder and a missing file at open', () => {
    symlinkSync(file, join(dir, 'link'));
    mkdirSync(join(dir, 'sub'));
    expect(() => open(join(dir, 'link'))).toThrow(expect.objectContaining({ code: 'ELOOP' }) as Error);
    expect(() => open(join(dir, 'sub'))).toThrow(/not a regular file/);
    expect(() => open(join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT' }) as Error);
  });

  it('fails the guest read (EIO) and names the file once its bytes change, even with its mtime set back', () => {
    const ref = open();
    const g = guest(ref);
    const fd = g.openFile();
    expect(g.read(fd, 4)).toEqual([E.SUCCESS, '0123']);
    const before = statSync(file);
    chmodSync(file, 0o644);
    writeFileSync(file, 'XXXXXXXXXXXXXXXXXXXX'); // same size
    utimesSync(file, before.atime, before.mtime);
    expect(g.read(fd, 4)).toEqual([E.IO, '']);
    expect(g.read(fd, 4, 0n)).toEqual([E.IO, '']);
    expect(g.ctx.hostFault).toMatchObject({ name: 'lib/f', reason: 'file_mismatch' });
    expect(hostFileUnchanged(ref)).toBe(false);
  });

  it('fails once the file grows or its mode changes (ctime), and a run that reads nothing reports nothing', () => {
    const grown = open();
    appendFileSync(file, 'more');
    expect(readHostFile(grown, 0, 4)).toBe(E.IO);
    const g = guest(grown);
    expect(g.ctx.hostFault).toBeNull();
    expect(g.filestat(g.call('path_filestat_get', 3, 0, ...g.path('lib/f'), 3000)).size).toBe(20n);

    const chmodded = open();
    expect(readHostFile(chmodded, 0, 4)).toEqual(new Uint8Array(BYTES.subarray(0, 4)));
    chmodSync(file, 0o400);
    expect(readHostFile(chmodded, 0, 4)).toBe(E.IO);
  });

  it('fails closed, never serving the new file, when the file is replaced by a rename (the kernel sets the old inode’s ctime)', () => {
    const ref = open();
    writeFileSync(join(dir, 'new'), 'NEW-BYTES-NEW-BYTES!');
    renameSync(join(dir, 'new'), file);
    const got = readHostFile(ref, 0, 20);
    expect(got).toBe(E.IO);
    expect(hostFileUnchanged(ref)).toBe(false);
  });

  it('closes its descriptor once, and reads on a closed one fail', () => {
    const ref = open();
    closeHostFile(ref);
    expect(ref.fd).toBe(-1);
    expect(() => closeHostFile(ref)).not.toThrow();
    expect(readHostFile(ref, 0, 4)).toBe(E.IO);
  });
});
