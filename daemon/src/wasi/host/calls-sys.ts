// WASI calls outside the file system: arguments, environment, clocks, poll_oneoff (sleeps without
// spinning), randomness, exit, and the socket calls (no sockets exist: errnos, never exceptions).
import { randomFillSync } from 'node:crypto';
import { CLOCK, E, EV, EVENT, EVENT_SIZE, R, SUB, SUBCLOCK_ABSTIME, SUBSCRIPTION_SIZE } from './defs.js';
import { ProcExit, type HostCore } from './host-core.js';

type Fn = (...args: never[]) => number;

/** Arguments and environment as the guest receives them (UTF-8, NUL-terminated). */
export interface ProcessInfo {
  args: string[];
  env: string[];
}

/** args_sizes_get / environ_sizes_get: how many strings, and their bytes with a NUL each. */
function writeSizes(core: HostCore, list: Uint8Array[], countPtr: number, sizePtr: number): void {
  core.view.setUint32(countPtr, list.length, true);
  core.view.setUint32(
    sizePtr,
    list.reduce((n, a) => n + a.byteLength + 1, 0),
    true,
  );
}

/** Writes `list` as a C string array (pointers at `ptrs`, bytes at `buf`). */
function writeStrings(core: HostCore, list: Uint8Array[], ptrs: number, buf: number): void {
  const v = core.view;
  const mem = core.bytes;
  let at = buf >>> 0;
  list.forEach((s, i) => {
    v.setUint32((ptrs >>> 0) + i * 4, at, true);
    mem.set(s, at);
    mem[at + s.byteLength] = 0;
    at += s.byteLength + 1;
  });
}

/** Everything but the file system. */
export function sysCalls(core: HostCore, info: ProcessInfo): Record<string, Fn> {
  const enc = (l: string[]) => l.map((s) => new Uint8Array(Buffer.from(s)));
  const args = enc(info.args);
  const env = enc(info.env);
  const clock = core.ctx.clock;
  const startMono = clock.monotonicNs();
  const now = (id: number): bigint | null => {
    if (id === CLOCK.REALTIME) return clock.realtimeNs();
    if (id === CLOCK.MONOTONIC) return clock.monotonicNs();
    // CPU-time clocks: time since the run started (the closest a single-threaded guest gets).
    if (id === CLOCK.PROCESS_CPUTIME || id === CLOCK.THREAD_CPUTIME) return clock.monotonicNs() - startMono;
    return null;
  };
  const noSocket = (fd: number): number => (core.fds.get(fd) ? E.NOTSOCK : E.BADF);

  return {
    args_sizes_get(countPtr: number, sizePtr: number): number {
      writeSizes(core, args, countPtr, sizePtr);
      return E.SUCCESS;
    },
    args_get(ptrs: number, buf: number): number {
      writeStrings(core, args, ptrs, buf);
      return E.SUCCESS;
    },
    environ_sizes_get(countPtr: number, sizePtr: number): number {
      writeSizes(core, env, countPtr, sizePtr);
      return E.SUCCESS;
    },
    environ_get(ptrs: number, buf: number): number {
      writeStrings(core, env, ptrs, buf);
      return E.SUCCESS;
    },
    clock_res_get(id: number, ptr: number): number {
      if (now(id) === null) return E.INVAL;
      core.view.setBigUint64(ptr, 1000n, true);
      return E.SUCCESS;
    },
    clock_time_get(id: number, _precision: bigint, ptr: number): number {
      const t = now(id);
      if (t === null) return E.INVAL;
      core.view.setBigUint64(ptr, t, true);
      return E.SUCCESS;
    },
    poll_oneoff(inPtr: number, outPtr: number, n: number, countPtr: number): number {
      n >>>= 0;
      if (n === 0) return E.INVAL;
      const v = core.view;
      const events: { userdata: bigint; error: number; type: number; nbytes: bigint }[] = [];
      let sleep: { ns: bigint; userdata: bigint } | null = null;
      for (let i = 0; i < n; i++) {
        const s = (inPtr >>> 0) + i * SUBSCRIPTION_SIZE;
        const userdata = v.getBigUint64(s + SUB.USERDATA, true);
        const tag = v.getUint8(s + SUB.TAG);
        if (tag === EVENT.CLOCK) {
          const id = v.getUint32(s + SUB.CLOCK_ID, true);
          const timeout = v.getBigUint64(s + SUB.TIMEOUT, true);
          const flags = v.getUint16(s + SUB.FLAGS, true);
          const t = now(id);
          if (t === null) {
            events.push({ userdata, error: E.INVAL, type: tag, nbytes: 0n });
            continue;
          }
          // Relative: wait `timeout`. Absolute: wait until the clock reads `timeout`.
          const ns = flags & SUBCLOCK_ABSTIME ? timeout - t : timeout;
          if (sleep === null || ns < sleep.ns) sleep = { ns, userdata };
        } else if (tag === EVENT.FD_READ || tag === EVENT.FD_WRITE) {
          const fd = v.getUint32(s + SUB.FD, true);
          const e = core.fds.get(fd);
          if (!e) {
            events.push({ userdata, error: E.BADF, type: tag, nbytes: 0n });
            continue;
          }
          if ((e.rightsBase & R.POLL_FD_READWRITE) === 0n && e.type === 'node') {
            events.push({ userdata, error: E.NOTCAPABLE, type: tag, nbytes: 0n });
            continue;
          }
          // Everything here is in memory: always ready (stdin holds all its bytes from the start).
          let nbytes = 0n;
          if (tag === EVENT.FD_READ) {
            if (e.type === 'input') nbytes = BigInt(e.data.byteLength - e.pos);
            else if (e.type === 'node' && e.node.kind === 'file') nbytes = BigInt(Math.max(0, e.node.size - e.pos));
          }
          events.push({ userdata, error: E.SUCCESS, type: tag, nbytes });
        } else return E.INVAL;
      }
      if (events.length === 0 && sleep !== null) {
        if (sleep.ns > 0n) clock.sleep(sleep.ns);
        events.push({ userdata: sleep.userdata, error: E.SUCCESS, type: EVENT.CLOCK, nbytes: 0n });
      } else if (sleep !== null && sleep.ns <= 0n) {
        events.push({ userdata: sleep.userdata, error: E.SUCCESS, type: EVENT.CLOCK, nbytes: 0n });
      }
      events.forEach((ev, i) => {
        const o = (outPtr >>> 0) + i * EVENT_SIZE;
        core.bytes.fill(0, o, o + EVENT_SIZE);
        v.setBigUint64(o + EV.USERDATA, ev.userdata, true);
        v.setUint16(o + EV.ERROR, ev.error, true);
        v.setUint8(o + EV.TYPE, ev.type);
        v.setBigUint64(o + EV.NBYTES, ev.nbytes, true);
      });
      v.setUint32(countPtr, events.length, true);
      return E.SUCCESS;
    },
    proc_exit(code: number): number {
      throw new ProcExit(code >>> 0);
    },
    proc_raise(): number {
      return E.NOTSUP;
    },
    sched_yield(): number {
      return E.SUCCESS;
    },
    random_get(ptr: number, len: number): number {
      const mem = core.bytes;
      ptr >>>= 0;
      len >>>= 0;
      if (ptr + len > mem.byteLength) return E.FAULT;
      for (let off = 0; off < len; off += 65536) randomFillSync(mem, ptr + off, Math.min(65536, len - off));
      return E.SUCCESS;
    },
    sock_accept(fd: number): number {
      return noSocket(fd);
    },
    sock_recv(fd: number): number {
      return noSocket(fd);
    },
    sock_send(fd: number): number {
      return noSocket(fd);
    },
    sock_shutdown(fd: number): number {
      return noSocket(fd);
    },
  };
}
