// Source of the worker that runs CPython instances, one job at a time. It is evaluated as a string
// (`new Worker(src, { eval: true })`) so it works the same from dist/ and under vitest. Every job
// gets a new wasm instance and new in-memory file systems; nothing of a job outlives it.
//
// The worker gets: a compiled WebAssembly.Module, argv/env/stdin, the stdlib files (shared,
// read-only), a snapshot of the workspace, and a shared control block for net_fetch. All file
// systems are in memory (browser_wasi_shim), so the guest can reach nothing else; at exit the
// worker reports which workspace files differ from the snapshot.
export const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
// Load the WASI shim while the worker waits in the pool, not when the job arrives.
const shimReady = import(workerData.shimUrl);
parentPort.on('message', async (job) => {
  const t0 = performance.now();
  const shim = await shimReady;
  const { WASI, File, Directory, PreopenDirectory, OpenFile, ConsoleStdout, WASIProcExit } = shim;

  function tree(files, dirs, readonly) {
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
    for (const d of dirs) if (d) dirOf(d.split('/'));
    for (const f of files) {
      const parts = f.path.split('/');
      const name = parts.pop();
      dirOf(parts).set(name, new File(f.data, { readonly }));
    }
    return root;
  }

  const original = new Map(job.workspace.map((f) => [f.path, f.data]));
  const wsRoot = tree(job.workspace, job.workspaceDirs, false);
  const pending = { 1: [], 2: [] };
  const sizes = { 1: 0, 2: 0 };
  let total = 0;
  let overflow = false;
  const flush = (fd) => {
    if (pending[fd].length) parentPort.postMessage({ type: 'output', fd, chunks: pending[fd] });
    pending[fd] = [];
    sizes[fd] = 0;
  };
  const writer = (fd) => new ConsoleStdout((buf) => {
    if (overflow) throw new Error('output limit');
    total += buf.byteLength;
    if (total > job.maxOutputBytes) {
      overflow = true;
      throw new Error('output limit');
    }
    pending[fd].push(buf.slice());
    sizes[fd] += buf.byteLength;
    if (sizes[fd] >= 65536) flush(fd);
  });
  const fds = [
    new OpenFile(new File(job.stdin, { readonly: true })),
    writer(1),
    writer(2),
    new PreopenDirectory('/usr/local', tree(job.stdlib, [], true)),
    new PreopenDirectory('/workspace', wsRoot),
    new PreopenDirectory('/tmp', new Map()),
  ];
  const env = Object.entries(job.env).map(([k, v]) => k + '=' + v);
  const wasi = new WASI(job.argv, env, fds, { debug: false });
  let inst;
  const decoder = new TextDecoder();
  const imports = {
    wasi_snapshot_preview1: wasi.wasiImport,
    shadowbox: {
      net_fetch(reqPtr, reqLen, outPtr, outCap) {
        const mem = new Uint8Array(inst.exports.memory.buffer);
        const request = mem.slice(reqPtr, reqPtr + reqLen);
        const cap = Math.min(outCap >>> 0, job.maxFetchBytes);
        const sab = new SharedArrayBuffer(8 + cap);
        const ctl = new Int32Array(sab, 0, 2);
        parentPort.postMessage({ type: 'fetch', sab, request });
        Atomics.wait(ctl, 0, 0);
        const n = Math.min(ctl[1], cap);
        new Uint8Array(inst.exports.memory.buffer).set(new Uint8Array(sab, 8, n), outPtr);
        return n;
      },
    },
  };
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
    else if (overflow) error = { reason: 'output_limit', message: 'output exceeded ' + job.maxOutputBytes + ' bytes' };
    else error = { reason: 'trap', message: String(e && e.message || e) };
  }
  flush(1);
  flush(2);

  const changes = [];
  const seen = new Set();
  const walk = (contents, prefix) => {
    for (const [name, node] of contents) {
      const p = prefix ? prefix + '/' + name : name;
      if (node instanceof Directory) { walk(node.contents, p); continue; }
      seen.add(p);
      const before = original.get(p);
      const data = node.data;
      if (!before || before.byteLength !== data.byteLength || !Buffer.from(before.buffer, before.byteOffset, before.byteLength).equals(Buffer.from(data.buffer, data.byteOffset, data.byteLength))) {
        changes.push({ path: p, data });
      }
    }
  };
  if (!error || error.reason === 'output_limit') {
    walk(wsRoot, '');
    for (const p of original.keys()) if (!seen.has(p)) changes.push({ path: p, data: null });
  }
  const t3 = performance.now();
  parentPort.postMessage({ type: 'done', exitCode, error, changes, timings: { setupMs: t1 - t0, instantiateMs: t2 - t1, runMs: t3 - t2 } });
});
`;
