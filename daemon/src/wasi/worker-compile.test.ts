// WorkerPool.compile: a module file read, checked against its manifest's hash and size, rewritten and compiled in a
// sandbox worker (python's path off the main thread). Bytes that differ from the expected ones are never compiled.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readlinkSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ErrorCodes } from '../errors.js';
import { runInprocess } from './inprocess-runner.js';
import { rewriteRefusal } from './rewrite-error.js';
import { findBuiltPythonBundle } from '../python/test-support.js';
import { fixture } from './test-support.js';
import { importMemory } from './memory-import.js';
import { compileFile, readStreamed } from './worker/compile.js';
import { WorkerPool } from './worker-pool.js';
import { closeDetached } from './worker/detached-data.js';
import type { CompileReply } from './worker/protocol.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const LIMITS = { wallMs: 60_000, memoryBytes: 64 * 1024 * 1024, stdoutBytes: 1 << 16, stderrBytes: 1 << 16 };

describe('WorkerPool.compile', () => {
  let dir = '';
  let probe: Uint8Array;
  let file = '';
  let pool: WorkerPool;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-wcompile-'));
    probe = await fixture('probe');
    file = join(dir, 'probe.wasm');
    await writeFile(file, probe);
  });
  afterEach(async () => {
    await pool.close();
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const expected = () => ({ path: file, sha256: sha256(probe), size: probe.length, maxPages: 40 });

  it('compiles the checked file with its memory made an import, and the module runs in the pool', async () => {
    pool = new WorkerPool(1, 10);
    const r = await pool.compile(expected());
    if (!r.ok) throw new Error(r.message);
    expect(r.memory).toMatchObject({ maximum: 40 });
    const out = await runInprocess(
      {
        module: { sha256: 'probe', load: () => Promise.reject(new Error('unused: given compiled')) },
        mounts: { tmp: true },
        argv: ['probe', 'echo', 'compiled in a worker'],
        limits: LIMITS,
      },
      { pool, module: r.module, maxPages: 40, ...(r.memory ? { memory: r.memory } : {}), fetch: null },
    );
    expect(out.exitCode).toBe(0);
    expect(Buffer.from(out.stdout).toString()).toContain('compiled in a worker');
    // The worker that compiled stays in the pool for the run (no second worker was spawned for it).
    expect(pool.readyCount).toBe(1);
  });

  it('refuses bytes whose hash or size differ from the expected ones, a symlink, a folder and a FIFO', async () => {
    pool = new WorkerPool(1, 10);
    const flipped = Uint8Array.from(probe);
    flipped[flipped.length - 1] ^= 1;
    const changed = join(dir, 'changed.wasm');
    await writeFile(changed, flipped);
    const grown = join(dir, 'grown.wasm');
    await writeFile(grown, Buffer.concat([probe, Buffer.from([0])]));
    const link = join(dir, 'link.wasm');
    await symlink(file, link);
    const folder = join(dir, 'folder.wasm');
    await mkdir(folder);
    // Opened without blocking: a FIFO with no writer would hang a plain open (and python's warm-up with it).
    const fifo = join(dir, 'fifo.wasm');
    execFileSync('mkfifo', [fifo]);
    for (const path of [changed, grown, link, folder, fifo, join(dir, 'missing.wasm')]) {
      expect(await pool.compile({ ...expected(), path })).toMatchObject({ ok: false, reason: 'file_mismatch' });
    }
    // The expected size is the file's, the hash is not: refused too.
    expect(await pool.compile({ ...expected(), sha256: sha256(flipped) })).toMatchObject({
      ok: false,
      reason: 'file_mismatch',
    });
  });

  it('answers a module the rewrite or V8 refuses with the reason the daemon reports', async () => {
    pool = new WorkerPool(1, 10);
    const notWasm = join(dir, 'not.wasm');
    const text = Buffer.from('hello world, not a module');
    await writeFile(notWasm, text);
    const r = await pool.compile({ path: notWasm, sha256: sha256(text), size: text.length, maxPages: 40 });
    expect(r).toMatchObject({ ok: false, reason: 'invalid_module' });
    // The probe needs more pages at start than a 1-page cap allows.
    const tight = await pool.compile({ ...expected(), maxPages: 1 });
    expect(tight).toMatchObject({ ok: false, reason: 'memory_limit' });
    if (tight.ok) throw new Error('unreachable');
    expect(rewriteRefusal({ ...tight, reason: 'memory_limit' })).toMatchObject({
      code: ErrorCodes.WasiLimitExceeded,
      data: { reason: 'memory_limit' },
    });
  });

  it('rejects when the worker stops before it answers', async () => {
    pool = new WorkerPool(1, 10);
    const pending = pool.compile(expected());
    // Taken before close(): it rejects while close() waits, and a rejection nobody holds then is an unhandled one.
    const outcome = pending.then(
      () => null,
      (e: unknown) => e,
    );
    await pool.close();
    expect(await outcome).toMatchObject({ message: expect.stringMatching(/stopped before the module was compiled/) });
  });

  it('uses a one-off worker when every pooled worker is out on a run', async () => {
    pool = new WorkerPool(0, 1);
    const r = await pool.compile(expected());
    expect(r.ok).toBe(true);
    expect(pool.readyCount).toBe(0);
  });

  it('gives its read of the module back as soon as it is compiled, not at a collection (an idle worker has none)', async () => {
    pool = new WorkerPool(0, 1); // none used: compiled on this thread (afterEach closes it)
    // The probe with a 24 MiB custom section appended (id 0, a LEB128 size, a name), written with no garbage left.
    const pad = 24 * 1024 * 1024;
    const name = Buffer.from('pad');
    const body = pad + 1 + name.length;
    const leb: number[] = [];
    for (let v = body; ;) {
      const b = v & 0x7f;
      v >>>= 7;
      leb.push(v ? b | 0x80 : b);
      if (!v) break;
    }
    const head = Buffer.concat([probe, Buffer.from([0, ...leb, name.length]), name]);
    const path = join(dir, 'big.wasm');
    const zeros = Buffer.alloc(pad);
    await writeFile(path, Buffer.concat([head, zeros]));
    const hash = createHash('sha256').update(head).update(zeros).digest('hex');
    // The buffer the read goes into (the only allocUnsafeSlow of the compile).
    const reads: Buffer[] = [];
    const alloc = Buffer.allocUnsafeSlow.bind(Buffer);
    const spy = vi.spyOn(Buffer, 'allocUnsafeSlow').mockImplementation((n: number) => {
      const b = alloc(n);
      reads.push(b);
      return b;
    });
    const fd = openSync(path, 'r');
    try {
      const before = process.memoryUsage().arrayBuffers;
      const r = await compileFile({ fd, sha256: hash, size: head.length + pad, maxPages: 40 });
      if (!r.ok) throw new Error(r.message);
      // Given back: its ArrayBuffer was transferred away (detached here), whatever a collection would do.
      expect(reads.map((b) => b.buffer.byteLength)).toEqual([0]);
      // And its memory freed with the message nobody receives (a later turn of the event loop; two, here). V8 keeps
      // its own copy of the module's bytes, off the memory Node counts.
      const held = () => (process.memoryUsage().arrayBuffers - before) / (1024 * 1024);
      for (let turn = 0; turn < 50 && held() >= 4; turn++) await new Promise((res) => setImmediate(res));
      expect(held()).toBeLessThan(4);
      expect(zeros.length).toBe(pad); // kept referenced until here: its memory is not what was freed
    } finally {
      spy.mockRestore();
      closeSync(fd);
    }
  });

  describe("the data section's body streamed, never held (readStreamed)", () => {
    const python = findBuiltPythonBundle();
    /** The data section's body [start, end) of a module, found the way importMemory finds sections. */
    const dataBody = (m: Uint8Array): [number, number] => {
      for (let pos = 8; pos < m.length;) {
        let body = pos + 1;
        let size = 0;
        for (let shift = 0; ; shift += 7) {
          const b = m[body++];
          size += (b & 0x7f) * 2 ** shift;
          if (!(b & 0x80)) break;
        }
        if (m[pos] === 11) return [body, body + size];
        pos = body + size;
      }
      throw new Error('no data section');
    };
    const cases = async (): Promise<Array<[string, Uint8Array]>> => [
      ['the probe', probe],
      ...(python ? [['CPython', await readFile(join(python, 'python.wasm'))] as [string, Uint8Array]] : []),
    ];

    it('finds the segments the whole read finds and the same hash, in pieces of any size', async () => {
      for (const [what, m] of await cases()) {
        const path = join(dir, 'streamed.wasm');
        await writeFile(path, m);
        const whole = importMemory(Uint8Array.from(m), 40 * 1024, { detachData: true });
        expect(whole?.segments, what).toBeDefined();
        const [start, end] = dataBody(m);
        const fd = openSync(path, 'r');
        try {
          // A piece smaller than a segment's header, odd sizes that put headers across pieces, and the default.
          for (const chunk of [1, 7, 61, 4096, 1 << 20]) {
            if (what === 'CPython' && chunk < 4096) continue; // 10,000 segments: the probe covers the small pieces
            const r = readStreamed(fd, m.length, chunk);
            expect(r, `${what}, pieces of ${chunk}`).not.toBeNull();
            expect(r!.sha256).toBe(sha256(m));
            expect([...r!.segments]).toEqual([...whole!.segments!]);
            // Every byte but the data section's body is the file's.
            expect(Buffer.compare(r!.bytes.subarray(0, start), m.subarray(0, start))).toBe(0);
            expect(Buffer.compare(r!.bytes.subarray(end), m.subarray(end))).toBe(0);
          }
        } finally {
          closeSync(fd);
        }
      }
    }, 60_000);

    it('hashes a data section shorter than a section header right, the bytes after it read once', async () => {
      // magic, version; a memory of one page; a data section of no segments (3 bytes); a custom section after it.
      const m = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 1, 11, 1, 0, 0, 4, 1, 0x78, 0xaa, 0xbb]);
      const path = join(dir, 'tiny.wasm');
      await writeFile(path, m);
      const fd = openSync(path, 'r');
      try {
        const r = readStreamed(fd, m.length);
        expect(r?.sha256).toBe(sha256(m));
        expect(r?.segments.length).toBe(0);
        expect(Buffer.compare(r!.bytes, m)).toBe(0); // the body (one byte) was read with the header before it
      } finally {
        closeSync(fd);
      }
    });

    it('leaves a module it does not apply to, or a file of another size, to the whole read', async () => {
      const path = join(dir, 'other.wasm');
      // No data section.
      await writeFile(path, Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 1]));
      let fd = openSync(path, 'r');
      try {
        expect(readStreamed(fd, 13)).toBeNull();
        expect(readStreamed(fd, 12)).toBeNull(); // a section that ends past the size asked for
        expect(readStreamed(fd, 14)).toBeNull(); // a file shorter than that
      } finally {
        closeSync(fd);
      }
      // A whole module, then the same with a byte after it: a file that grew past the size asked for.
      const tiny = [0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 5, 3, 1, 0, 1, 11, 1, 0];
      for (const [bytes, streams] of [
        [tiny, true],
        [[...tiny, 0], false],
      ] as const) {
        await writeFile(path, Uint8Array.from(bytes));
        fd = openSync(path, 'r');
        try {
          expect(readStreamed(fd, tiny.length) !== null).toBe(streams);
        } finally {
          closeSync(fd);
        }
      }
      // A segment that is not at a constant address in memory 0 (flags 0x02 naming memory 1).
      await writeFile(path, Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 11, 7, 1, 2, 1, 0x41, 0, 0x0b, 0]));
      fd = openSync(path, 'r');
      try {
        expect(readStreamed(fd, 17)).toBeNull();
      } finally {
        closeSync(fd);
      }
    });

    it('gets no module from importMemory when the segments it was given cannot be left out', () => {
      // A start section (id 8): writing the segments after instantiation would not be the same. The data section's
      // body, 0xa5 here, stands for bytes never read.
      const m = Uint8Array.from([
        ...[0, 0x61, 0x73, 0x6d, 1, 0, 0, 0],
        ...[1, 4, 1, 0x60, 0, 0], // type: () -> ()
        ...[3, 2, 1, 0], // one function
        ...[5, 3, 1, 0, 1], // memory: 1 page
        ...[8, 1, 0], // start: function 0
        ...[10, 4, 1, 2, 0, 0x0b], // its code
        ...[11, 9, 1, 0, 0x41, 0, 0x0b, 3, 0xa5, 0xa5, 0xa5], // one segment of 3 bytes at 0
      ]);
      const segments = Uint32Array.from([0, m.length - 3, 3]);
      expect(importMemory(m, 40, { detachData: true })?.segments).toBeUndefined(); // kept in, read
      expect(importMemory(m, 40, { detachData: true, segments })).toBeNull(); // kept in, unread: none
    });

    it("compiles python's way without the data section's body ever in its buffer", async () => {
      pool = new WorkerPool(0, 1); // none used: compiled on this thread (afterEach closes it)
      // Every buffer of the compile made over shared memory marked 0xa5: release() leaves those as they are, so what
      // was written into each can be seen after.
      const made: Buffer[] = [];
      const spy = vi.spyOn(Buffer, 'allocUnsafeSlow').mockImplementation((n: number) => {
        const b = Buffer.from(new SharedArrayBuffer(n)).fill(0xa5) as unknown as Buffer<ArrayBuffer>;
        made.push(b);
        return b;
      });
      const m = probe;
      const path = join(dir, 'marked.wasm');
      await writeFile(path, m);
      const fd = openSync(path, 'r');
      let r: CompileReply;
      try {
        r = await compileFile({ fd, sha256: sha256(m), size: m.length, maxPages: 40, detachData: true });
      } finally {
        spy.mockRestore();
      }
      try {
        if (!r.ok) throw new Error(r.message);
        expect(r.data?.segments.length).toBeGreaterThan(0);
        const [start, end] = dataBody(m);
        // The first buffer is the read's (1024 bytes of room in front of the module), the second the pieces'. The
        // read of the section's header takes up to 5 bytes of its body with it, and the rewrite in place moves the
        // sections after it down to follow the code: past those, the body's place was never written.
        const read = made[0];
        expect(read.length).toBe(1024 + m.length);
        const from = start + 5 + (m.length - end);
        expect(end - from).toBeGreaterThan(1024);
        expect(read.subarray(1024 + from, 1024 + end).every((b) => b === 0xa5)).toBe(true);
        expect(made[1].length).toBeLessThanOrEqual(32 + end - start);
      } finally {
        closeSync(fd); // also the reply's data's descriptor: compileFile was given this one
      }
    });
  });

  describe('with the data segments left in the file (detachData)', () => {
    /** Descriptors of this process open on `path`. */
    const fdsOn = (path: string) =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === path;
        } catch {
          return false;
        }
      }).length;
    const echo = (r: Extract<CompileReply, { ok: true }>, text: string) =>
      runInprocess(
        {
          module: { sha256: 'probe', load: () => Promise.reject(new Error('unused: given compiled')) },
          mounts: { tmp: true },
          argv: ['probe', 'echo', text],
          limits: LIMITS,
        },
        {
          pool,
          module: r.module,
          // A key: the worker reused, it makes the next instance ahead (filled from the file when it is made).
          moduleKey: 'probe:40',
          maxPages: 40,
          ...(r.memory ? { memory: r.memory } : {}),
          ...(r.data ? { data: r.data } : {}),
          fetch: null,
        },
      );

    it("runs as the whole module does, its memory filled from the file; the descriptor is the caller's", async () => {
      pool = new WorkerPool(1, 10);
      const r = await pool.compile({ ...expected(), detachData: true });
      if (!r.ok) throw new Error(r.message);
      expect(r.data?.segments.length).toBeGreaterThan(0);
      expect(fdsOn(file)).toBe(1);
      // Several runs on one worker: the memory reused (zeroed) is filled again each time, the instance made ahead too.
      for (let i = 0; i < 3; i++) {
        const out = await echo(r, `detached ${i}`);
        expect(out.exitCode).toBe(0);
        expect(Buffer.from(out.stdout).toString()).toContain(`detached ${i}`);
        // From the second run on, the instance is the one made ahead, in the first run's memory (zeroed, filled).
        expect(out.memoryReused ?? false).toBe(i > 0);
      }
      closeDetached(r.data);
      closeDetached(r.data); // once only: the same number may name another file by now
      expect(fdsOn(file)).toBe(0);
      // Not asked: the module keeps its data, and the pool closes what it opened.
      const whole = await pool.compile(expected());
      expect(whole.ok && whole.data).toBeFalsy();
      expect(fdsOn(file)).toBe(0);
    });

    it('never runs the module once the file changed after it was checked (a chmod changes its ctime)', async () => {
      pool = new WorkerPool(1, 10);
      const copy = join(dir, 'changing.wasm');
      await writeFile(copy, probe);
      const r = await pool.compile({ ...expected(), path: copy, detachData: true });
      if (!r.ok) throw new Error(r.message);
      expect((await echo(r, 'before')).exitCode).toBe(0);
      await chmod(copy, 0o600);
      await expect(echo(r, 'after')).rejects.toMatchObject({
        code: ErrorCodes.BundleVerificationFailed,
        data: { reason: 'file_mismatch' },
      });
      // The same bytes written back in place: still not the file that was hashed.
      await writeFile(copy, probe);
      await expect(echo(r, 'rewritten')).rejects.toMatchObject({ data: { reason: 'file_mismatch' } });
      closeDetached(r.data);
      // Its descriptor closed and its number reused by another file: refused, never read from that file.
      // (Other files are opened until one gets that number: the lowest free one comes first.)
      const others: number[] = [];
      try {
        while (others.length < 256 && others.at(-1) !== r.data!.fd) others.push(openSync(file, 'r'));
        expect(others.at(-1)).toBe(r.data!.fd);
        await expect(echo(r, 'closed')).rejects.toMatchObject({ data: { reason: 'file_mismatch' } });
      } finally {
        for (const fd of others) closeSync(fd);
      }
    });
  });
});
