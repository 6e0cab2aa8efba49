// The WASI host called directly on a scratch memory with an injected clock: the defects found in
// the shim it replaced (sleeps lasting clock + d, lost absolute-time flag, files created by
// `open('x/missing/', 'wb')`, st_nlink 0 after link, times always 0, sock_shutdown throwing).
import { describe, expect, it } from 'vitest';
import { DIR_RIGHTS, E, EVENT, FILE_RIGHTS, FT, O, R, SUBCLOCK_ABSTIME } from './defs.js';
import { FdTable } from './fd-table.js';
import { DirNode, FsContext, type HostClock } from './memfs.js';
import { createWasiHost } from './wasi-host.js';
import { wasm } from './wasm-api.js';

function setup() {
  const slept: bigint[] = [];
  let mono = 1_000_000_000_000n; // a daemon up for ~17 minutes
  const clock: HostClock = {
    realtimeNs: () => 1_767_000_000_000_000_000n,
    monotonicNs: () => mono,
    sleep: (ns) => {
      slept.push(ns);
      mono += ns;
    },
  };
  const ctx = new FsContext(clock, 1 << 20);
  const root = new DirNode(ctx);
  const fds = new FdTable();
  fds.add({ type: 'input', data: new Uint8Array(0), pos: 0, flags: 0, rightsBase: R.FD_READ, rightsInheriting: 0n });
  fds.add({ type: 'output', sink: { write: () => undefined }, flags: 0, rightsBase: R.FD_WRITE, rightsInheriting: 0n });
  fds.add({ type: 'output', sink: { write: () => undefined }, flags: 0, rightsBase: R.FD_WRITE, rightsInheriting: 0n });
  fds.add({
    type: 'node',
    node: root,
    pos: 0,
    flags: 0,
    rightsBase: DIR_RIGHTS,
    rightsInheriting: DIR_RIGHTS | FILE_RIGHTS,
    preopen: '/',
    boundary: root,
  });
  const memory = new wasm.Memory({ initial: 1 });
  const host = createWasiHost({ args: ['t'], env: [], fds, root, ctx });
  host.bind({ exports: { memory } });
  const v = () => new DataView(memory.buffer);
  const call = (name: string, ...args: (number | bigint)[]): number =>
    (host.imports[name] as unknown as (...a: (number | bigint)[]) => number)(...args);
  const str = (at: number, s: string): [number, number] => {
    const b = Buffer.from(s);
    new Uint8Array(memory.buffer).set(b, at);
    return [at, b.byteLength];
  };
  const open = (path: string, oflags: number, rights = FILE_RIGHTS): number | { errno: number } => {
    const [p, n] = str(1000, path);
    const err = call('path_open', 3, 0, p, n, oflags, rights, 0n, 0, 2000);
    return err === E.SUCCESS ? v().getUint32(2000, true) : { errno: err };
  };
  const stat = (path: string) => {
    const [p, n] = str(1000, path);
    const err = call('path_filestat_get', 3, 0, p, n, 3000);
    if (err !== E.SUCCESS) return { errno: err };
    return { type: v().getUint8(3016), nlink: v().getBigUint64(3024, true), mtim: v().getBigUint64(3048, true) };
  };
  return { call, v, slept, open, stat, str, clock, root };
}

/** Writes a clock subscription (userdata 7) at 100. */
function clockSub(v: DataView, timeout: bigint, flags: number): void {
  for (let i = 0; i < 48; i++) v.setUint8(100 + i, 0);
  v.setBigUint64(100, 7n, true);
  v.setUint8(108, EVENT.CLOCK);
  v.setUint32(116, 1, true); // monotonic
  v.setBigUint64(124, timeout, true);
  v.setUint16(140, flags, true);
}

describe('WASI host', () => {
  it('sleeps for a relative timeout, not for the clock value plus it', () => {
    const h = setup();
    clockSub(h.v(), 5_000_000n, 0);
    expect(h.call('poll_oneoff', 100, 200, 1, 300)).toBe(E.SUCCESS);
    expect(h.slept).toEqual([5_000_000n]);
    expect(h.v().getUint32(300, true)).toBe(1);
    expect(h.v().getBigUint64(200, true)).toBe(7n);
  });

  it('reads the absolute-time flag at offset 40 and sleeps until the deadline', () => {
    const h = setup();
    const deadline = h.clock.monotonicNs() + 7_000_000n;
    clockSub(h.v(), deadline, SUBCLOCK_ABSTIME);
    expect(h.call('poll_oneoff', 100, 200, 1, 300)).toBe(E.SUCCESS);
    expect(h.slept).toEqual([7_000_000n]);
    // A deadline already passed: no sleep at all.
    clockSub(h.v(), deadline - 1n, SUBCLOCK_ABSTIME);
    expect(h.call('poll_oneoff', 100, 200, 1, 300)).toBe(E.SUCCESS);
    expect(h.slept).toEqual([7_000_000n]);
  });

  it('refuses to create a file through a path ending in a slash', () => {
    const h = setup();
    expect(h.open('missing/', O.CREAT)).toEqual({ errno: E.ISDIR });
    expect(h.stat('missing')).toEqual({ errno: E.NOENT });
  });

  it('counts hard links in st_nlink and gives new files the current time', () => {
    const h = setup();
    expect(typeof h.open('a', O.CREAT)).toBe('number');
    const [p1, n1] = h.str(1100, 'a');
    const [p2, n2] = h.str(1200, 'b');
    expect(h.call('path_link', 3, 0, p1, n1, 3, p2, n2)).toBe(E.SUCCESS);
    expect(h.stat('a')).toEqual({ type: FT.REGULAR_FILE, nlink: 2n, mtim: 1_767_000_000_000_000_000n });
    expect(h.call('path_link', 3, 0, p1, n1, 3, p2, n2)).toBe(E.EXIST);
  });

  it('answers socket calls on a non-socket or a closed descriptor with an errno', () => {
    const h = setup();
    expect(h.call('sock_shutdown', 3, 1)).toBe(E.NOTSOCK);
    expect(h.call('sock_shutdown', 99, 1)).toBe(E.BADF);
    expect(h.call('sock_recv', 1, 0, 0, 0, 0, 0)).toBe(E.NOTSOCK);
  });

  it('appends at the end of the file for every write on an O_APPEND descriptor', () => {
    const h = setup();
    const fd = h.open('log', O.CREAT);
    expect(typeof fd).toBe('number');
    const v = h.v();
    h.str(500, 'abc');
    v.setUint32(400, 500, true);
    v.setUint32(404, 3, true);
    expect(h.call('fd_write', fd as number, 400, 1, 410)).toBe(E.SUCCESS);
    expect(h.call('fd_fdstat_set_flags', fd as number, 1)).toBe(E.SUCCESS);
    expect(h.call('fd_seek', fd as number, 0n, 0, 420)).toBe(E.SUCCESS);
    expect(h.call('fd_write', fd as number, 400, 1, 410)).toBe(E.SUCCESS);
    expect(h.call('fd_pwrite', fd as number, 400, 1, 0n, 410)).toBe(E.SUCCESS);
    const node = h.root.entries.get('log');
    expect(node?.kind === 'file' && Buffer.from(node.content()).toString()).toBe('abcabcabc');
  });
});
