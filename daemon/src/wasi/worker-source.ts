// Source of the worker that runs WASI instances, one job at a time, each a new instance. Evaluated as a string
// (`new Worker(src, { eval: true })`) so it behaves the same from dist/ and under vitest.
//
// File systems (browser_wasi_shim, in memory, so the guest can reach nothing else):
// - read-only trees posted with the job,
// - /workspace: directories and files loaded lazily from the daemon's WorkspaceView through a
//   synchronous bridge (post on a MessagePort, block on Atomics.wait, read the reply with
//   receiveMessageOnPort); changes are reported back at exit and applied to the view there,
// - /tmp: empty, in memory.
// The shim's path resolution refuses absolute paths and `..` above a preopen, and has no symlinks.
export const WORKER_SOURCE = String.raw`
const { parentPort, workerData, receiveMessageOnPort } = require('node:worker_threads');
// File data lives in the worker's JS heap, outside the guest's memory cap: bound how much the
// guest can grow files (/tmp and its copy of /workspace) in one run; past it writes get ENOSPC.
// Patched once per worker; fsBudget is reset by each job.
let fsBudget = 0;
const shimReady = import(workerData.shimUrl).then((shim) => {
  const grow = (file, newSize) => {
    const growth = newSize - Number(file.size);
    if (growth <= 0) return true;
    if (growth > fsBudget) return false;
    fsBudget -= growth;
    return true;
  };
  const P = shim.OpenFile.prototype;
  const NOSPC = shim.wasi.ERRNO_NOSPC;
  const orig = { w: P.fd_write, pw: P.fd_pwrite, a: P.fd_allocate, s: P.fd_filestat_set_size };
  P.fd_write = function (data) { return grow(this.file, Number(this.file_pos) + data.byteLength) ? orig.w.call(this, data) : { ret: NOSPC, nwritten: 0 }; };
  P.fd_pwrite = function (data, off) { return grow(this.file, Number(off) + data.byteLength) ? orig.pw.call(this, data, off) : { ret: NOSPC, nwritten: 0 }; };
  P.fd_allocate = function (off, len) { return grow(this.file, Number(off + len)) ? orig.a.call(this, off, len) : NOSPC; };
  P.fd_filestat_set_size = function (size) { return grow(this.file, Number(size)) ? orig.s.call(this, size) : NOSPC; };
  return shim;
});
// A 300-byte module (see docs/wasi.md) run once at spawn, so the shim's code is parsed and
// compiled before the first real job: single-use workers otherwise pay that on every run.
const WARMUP = 'AGFzbQEAAAABFgRgAn9/AX9gBH9/f38Bf2ABfwBgAAACwQEFFndhc2lfc25hcHNob3RfcHJldmlldzEOYXJnc19zaXplc19nZXQAABZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxEWVudmlyb25fc2l6ZXNfZ2V0AAAWd2FzaV9zbmFwc2hvdF9wcmV2aWV3MQ5mZF9wcmVzdGF0X2dldAAAFndhc2lfc25hcHNob3RfcHJldmlldzEIZmRfd3JpdGUAARZ3YXNpX3NuYXBzaG90X3ByZXZpZXcxCXByb2NfZXhpdAACAwIBAwUDAQACBggBfwFBoIgECwcTAgZtZW1vcnkCAAZfc3RhcnQABQrSAQHPAQECfyOAgICAAEEgayIAJICAgIAAIABBHGogAEEYahCAgICAABogAEEcaiAAQRhqEIGAgIAAGgJAQQNBkIiAgAAQgoCAgAANAEEEQZCIgIAAEIKAgIAADQBBBUGQiICAABCCgICAAA0AQQZBkIiAgAAQgoCAgAANAEEHQZCIgIAAEIKAgIAAGgsgAEEAKQOIiICAADcDCEEyIQEDQEEBIABBCGpBASAAQRRqEIOAgIAAGiABQX9qIgENAAtBABCEgICAACAAQSBqJICAgIAACwsXAQBBgAgLEHdhcm0KAAAAAAQAAAUAAAA=';
const warmed = shimReady.then(() => runJob({
  module: new WebAssembly.Module(Buffer.from(WARMUP, 'base64')), argv: ['warmup'], env: { A: 'b' }, stdin: new Uint8Array(0),
  readOnly: [{ at: '/w', files: [{ path: 'a/b', data: new Uint8Array(1) }] }], workspace: false, tmp: true, netFetch: false,
  stdoutBytes: 1 << 20, stderrBytes: 1 << 20, fsBytes: 1 << 20, ctl: new SharedArrayBuffer(4), port: null,
}, () => undefined)).catch(() => undefined);
parentPort.on('message', async (job) => {
  await warmed;
  await runJob(job, (m) => parentPort.postMessage(m));
});
async function runJob(job, post) {
  const t0 = performance.now();
  const shim = await shimReady;
  const { WASI, File, Directory, PreopenDirectory, OpenFile, Fd, WASIProcExit } = shim;
  const ctl = new Int32Array(job.ctl);
  const port = job.port;

  // Synchronous call into the daemon's main thread.
  function call(op, args) {
    Atomics.store(ctl, 0, 0);
    port.postMessage({ op, args });
    Atomics.wait(ctl, 0, 0);
    let m = receiveMessageOnPort(port);
    while (m === undefined) { Atomics.wait(ctl, 0, 1, 1); m = receiveMessageOnPort(port); }
    return m.message;
  }

  class WsFile extends File {
    constructor(path, size) {
      super(new Uint8Array(0));
      this.wsPath = path;
      this.wsSize = size;
      this.loaded = null;
      this.original = null;
      this.dirty = false;
    }
    get data() {
      if (this.loaded === null) {
        const r = call('readFile', { path: this.wsPath });
        this.loaded = r.ok ? r.data : new Uint8Array(0);
        this.original = this.loaded.slice();
      }
      return this.loaded;
    }
    // A file listed earlier that vanished (or cannot be read) before the guest opened it: ENOENT / EIO,
    // never an empty file. Truncating opens need no content.
    path_open(oflags, rights, fdflags) {
      if (this.loaded === null && (oflags & shim.wasi.OFLAGS_TRUNC) === 0) {
        const r = call('readFile', { path: this.wsPath });
        if (!r.ok) return { ret: r.reason === 'not_found' ? shim.wasi.ERRNO_NOENT : shim.wasi.ERRNO_IO, fd_obj: null };
        this.loaded = r.data;
        this.original = r.data.slice();
      }
      return super.path_open(oflags, rights, fdflags);
    }
    set data(v) { this.loaded = v; if (this.wsPath !== undefined) this.dirty = true; }
    get size() { return this.loaded === null ? BigInt(this.wsSize) : BigInt(this.loaded.byteLength); }
  }

  class WsDir extends Directory {
    constructor(path) {
      super(new Map());
      this.wsPath = path;
      this.listed = null;
    }
    get contents() {
      if (this.wsPath === undefined) return new Map();
      if (this.listed === null) {
        this.listed = new Map();
        this.originalNames = new Set();
        const r = call('readdir', { path: this.wsPath });
        if (!r.ok && r.reason === 'not_found') this.gone = true;
        if (r.ok) for (const e of r.entries) {
          const p = this.wsPath ? this.wsPath + '/' + e.name : e.name;
          const node = e.type === 'dir' ? new WsDir(p) : new WsFile(p, e.size);
          if (node instanceof Directory) node.parent = this;
          this.listed.set(e.name, node);
          this.originalNames.add(e.name);
        }
      }
      return this.listed;
    }
    set contents(v) { if (this.wsPath !== undefined) this.listed = v; }
    // A directory that vanished before the guest listed it cannot be opened (it is not an empty one).
    path_open(oflags, rights, fdflags) {
      void this.contents;
      if (this.gone) return { ret: shim.wasi.ERRNO_NOENT, fd_obj: null };
      return super.path_open(oflags, rights, fdflags);
    }
  }

  function tree(files) {
    const root = new Map();
    const dirOf = (parts) => {
      let cur = root;
      for (const p of parts) {
        let next = cur.get(p);
        if (!(next instanceof Directory)) { next = new Directory(new Map()); cur.set(p, next); }
        cur = next.contents;
      }
      return cur;
    };
    for (const f of files) {
      const parts = f.path.split('/').filter((s) => s && s !== '.' && s !== '..');
      const name = parts.pop();
      if (name) dirOf(parts).set(name, new File(f.data, { readonly: true }));
    }
    return root;
  }

  // Output: capped per stream; past the cap the run ends with output_limit.
  const pending = { 1: [], 2: [] };
  const sizes = { 1: 0, 2: 0 };
  const caps = { 1: job.stdoutBytes, 2: job.stderrBytes };
  let overflow = 0;
  const flush = (fd) => {
    if (pending[fd].length) post({ type: 'output', fd, chunks: pending[fd] });
    pending[fd] = [];
  };
  class Out extends Fd {
    constructor(fd) { super(); this.fd = fd; this.pend = 0; }
    fd_filestat_get() { return { ret: 0, filestat: new shim.wasi.Filestat(0n, shim.wasi.FILETYPE_CHARACTER_DEVICE, 0n) }; }
    fd_fdstat_get() { const s = new shim.wasi.Fdstat(shim.wasi.FILETYPE_CHARACTER_DEVICE, 0); s.fs_rights_base = BigInt(shim.wasi.RIGHTS_FD_WRITE); return { ret: 0, fdstat: s }; }
    fd_write(data) {
      const fd = this.fd;
      const room = caps[fd] - sizes[fd];
      if (data.byteLength > room) {
        if (room > 0) pending[fd].push(data.slice(0, room));
        sizes[fd] = caps[fd];
        overflow = fd;
        throw new Error('output limit');
      }
      pending[fd].push(data.slice());
      sizes[fd] += data.byteLength;
      this.pend += data.byteLength;
      if (this.pend >= 65536) { this.pend = 0; flush(fd); }
      return { ret: 0, nwritten: data.byteLength };
    }
  }

  fsBudget = job.fsBytes;

  const fds = [new OpenFile(new File(job.stdin, { readonly: true })), new Out(1), new Out(2)];
  for (const m of job.readOnly) fds.push(new PreopenDirectory(m.at, tree(m.files)));
  let ws = null;
  if (job.workspace) {
    const pre = new PreopenDirectory('/workspace', new Map());
    ws = new WsDir('');
    pre.dir = ws;
    fds.push(pre);
    if (job.cwdWorkspace) {
      const dot = new PreopenDirectory('.', new Map());
      dot.dir = ws;
      fds.push(dot);
    }
  }
  if (job.tmp) fds.push(new PreopenDirectory('/tmp', new Map()));
  const env = Object.entries(job.env).map(([k, v]) => k + '=' + v);
  const wasi = new WASI(job.argv, env, fds, { debug: false });
  // The shim sizes argv by UTF-16 length; count UTF-8 bytes so non-ASCII arguments fit.
  const utf8 = new TextEncoder();
  wasi.wasiImport.args_sizes_get = (argc, size) => {
    const v = new DataView(inst.exports.memory.buffer);
    v.setUint32(argc, job.argv.length, true);
    v.setUint32(size, job.argv.reduce((n, a) => n + utf8.encode(a).length + 1, 0), true);
    return 0;
  };
  let inst;
  const imports = { wasi_snapshot_preview1: wasi.wasiImport };
  if (job.netFetch) {
    imports.shadowbox = {
      net_fetch(reqPtr, reqLen, outPtr, outCap) {
        const mem = new Uint8Array(inst.exports.memory.buffer);
        reqPtr >>>= 0; reqLen >>>= 0; outPtr >>>= 0; outCap >>>= 0;
        if (reqPtr + reqLen > mem.length || outPtr + outCap > mem.length) return -1;
        const r = call('fetch', { request: mem.slice(reqPtr, reqPtr + reqLen), cap: outCap });
        const reply = r.data;
        const n = Math.min(reply.byteLength, outCap);
        new Uint8Array(inst.exports.memory.buffer).set(reply.subarray(0, n), outPtr);
        return n;
      },
    };
  }
  let exitCode = null;
  let error = null;
  const t1 = performance.now();
  let t2 = t1;
  try {
    inst = await WebAssembly.instantiate(job.module, imports);
    t2 = performance.now();
    exitCode = wasi.start(inst);
  } catch (e) {
    if (e instanceof WASIProcExit) exitCode = e.code;
    else if (overflow) error = { reason: 'output_limit', message: (overflow === 1 ? 'stdout' : 'stderr') + ' exceeded its limit' };
    else error = { reason: 'trap', message: String((e && e.message) || e) };
  }
  flush(1);
  flush(2);
  const memBytes = inst && inst.exports.memory ? inst.exports.memory.buffer.byteLength : 0;

  // Changes under /workspace: new or modified files, new directories, removed entries.
  const changes = [];
  const walk = (dir, prefix, fresh) => {
    const lazy = dir instanceof WsDir;
    if (lazy && dir.listed === null && !fresh && dir.wsPath === prefix) return;
    const contents = dir.contents;
    if (lazy && !fresh && dir.wsPath === prefix) {
      for (const name of dir.originalNames) if (!contents.has(name)) changes.push({ op: 'remove', path: prefix ? prefix + '/' + name : name });
    }
    for (const [name, node] of contents) {
      const p = prefix ? prefix + '/' + name : name;
      if (node instanceof Directory) {
        const moved = !(node instanceof WsDir) || node.wsPath !== p || fresh;
        if (moved) changes.push({ op: 'mkdir', path: p });
        walk(node, p, moved);
        continue;
      }
      if (node instanceof WsFile && !fresh && node.wsPath === p) {
        if (node.loaded === null) continue;
        const a = node.loaded, b = node.original;
        if (!node.dirty && b && a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))) continue;
      }
      changes.push({ op: 'write', path: p, data: node.data });
    }
  };
  if (ws && (!error || error.reason === 'output_limit')) walk(ws, '', false);
  const t3 = performance.now();
  post({ type: 'done', exitCode, error, memBytes, changes, timings: { setupMs: t1 - t0, instantiateMs: t2 - t1, runMs: t3 - t2 } });
}
`;
