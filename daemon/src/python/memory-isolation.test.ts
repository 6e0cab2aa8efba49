// A python call must never see what an earlier call left in memory, now that a pooled worker hands one wasm
// memory from instance to instance (zeroed: wasi/worker/spare-memory.ts). A hostile call can read its whole
// linear memory without ctypes (crafted LOAD_CONST bytecode makes a fake bytearray at address 0: READER), so
// these tests scan raw memory, not only the state python shows: session A reads a secret from its workspace and
// ends in every way a call can end; session B (another workspace, no such file) scans what it starts with.
// Written by the review of this change; removing the zeroing fails them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPython, type Python, type PythonRunInput } from './index.js';
import { findBuiltPythonBundle, loadBundleDir, MemoryLayerView } from './test-support.js';

const bundleDir = findBuiltPythonBundle();
if (!bundleDir)
  console.warn(
    'python memory isolation tests skipped: no built python bundle (run `node bundles/scripts/build.mjs python`)',
  );

/** Python that defines MEM: a bytearray whose bytes are the guest's linear memory from address 0. */
const READER = String.raw`
import struct, types
_keep = []
def _reader():
    fake = struct.pack('<IIiiIIi', 1 << 24, id(bytearray), 0x7fffffff, 0x7fffffff, 0, 0, 0)
    ptr = struct.pack('<I', id(fake) + 16)
    f = lambda: 0
    c0 = f.__code__.replace(co_consts=(None,))
    consts = c0.co_consts
    off = (id(ptr) + 16) - (id(consts) + 12)
    assert off % 4 == 0, off
    i = (off // 4) & 0xffffffff
    code = bytes([151, 0, 144, (i >> 24) & 255, 144, (i >> 16) & 255, 144, (i >> 8) & 255, 100, i & 255, 83, 0])
    c = c0.replace(co_code=code)
    assert c.co_consts is consts
    _keep.extend([fake, ptr, consts, c])
    m = types.FunctionType(c, {})()
    _keep.append(m)
    return m
MEM = _reader()
def scan(pre, suf, end):
    # pre and suf apart, so the scanner itself never makes the joined needle (copies of real hits only).
    hits, step, a = [], 1 << 20, 0
    n = len(pre) + len(suf)
    while a < end:
        chunk = MEM[a:min(end, a + step + n)]
        j = chunk.find(pre)
        while j >= 0:
            if chunk[j + len(pre):j + n] == suf:
                hits.append(a + j)
            j = chunk.find(pre, j + 1)
        a += step
    return sorted(set(hits))
`;

const SECRET = 'WSA-SECRET-7c1e9b0f2d4a';

describe.skipIf(!bundleDir)('python: no call sees what an earlier call left in the reused memory', () => {
  let wsA: string;
  let wsB: string;
  let py: Python;
  beforeAll(async () => {
    wsA = await mkdtemp(join(tmpdir(), 'rvpy-a-'));
    wsB = await mkdtemp(join(tmpdir(), 'rvpy-b-'));
    await writeFile(join(wsA, 'secret.txt'), SECRET);
    py = createPython({
      loadBundle: () => loadBundleDir(bundleDir as string),
      limits: { memoryMb: 256, maxOutputBytes: 1024 * 1024, timeoutMs: 20_000 },
    });
    await py.warm();
  });
  afterAll(async () => {
    await py?.close();
    await rm(wsA, { recursive: true, force: true });
    await rm(wsB, { recursive: true, force: true });
  });
  const inA = (input: PythonRunInput) => py.run(input, { view: new MemoryLayerView(wsA) });
  const inB = (input: PythonRunInput) => py.run(input, { view: new MemoryLayerView(wsB) });
  // Session B: scans the initial memory (176 pages and a bit less: never past the end) for the secret.
  const scanB = (extra = '') =>
    inB({
      code: `${READER}\n${extra}\nimport os\nprint(os.path.exists('/workspace/secret.txt'), len(scan(b'WSA-', b'SECRET', 176 * 65536)))`,
    });

  it('the reader works: a call finds a marker it put in its own memory', async () => {
    const r = await inB({
      code: `${READER}\nx = bytearray(b'MARK-' + b'Q' * 100)\nprint(len(scan(b'MARK-', b'QQQQ', 176 * 65536)) > 0, MEM[id(x)-0:id(x)+4] != b'')`,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('True True\n');
  });

  it('positive control: within one call, the secret read from the file is found by the scan', async () => {
    const r = await inA({
      code: `${READER}\ns = open('/workspace/secret.txt','rb').read() * 3\nprint(len(scan(b'WSA-', b'SECRET', 176 * 65536)) > 0)`,
    });
    expect(r.stdout).toBe('True\n');
  });

  it('A reads the secret (many copies, freed and live), B scans its whole initial memory', async () => {
    const a = await inA({
      code: [
        'import gc',
        "s = open('/workspace/secret.txt','rb').read()",
        'keep = [bytearray(s * 10) for _ in range(20)]',
        'freed = [bytes(s) + bytes([i]) for i in range(50)]; del freed; gc.collect()',
        't = s.decode() * 5',
        'print(len(keep))',
      ].join('\n'),
    });
    expect(a.stdout).toBe('20\n');
    const b = await scanB();
    expect(b.memoryReused).toBe(true);
    expect(b.stderr).toBe('');
    expect(b.stdout).toBe('False 0\n');
  });

  it('after A grew the memory and filled the new pages with the secret, B grows and scans them', async () => {
    await inA({
      code: "s = open('/workspace/secret.txt','rb').read()\nbig = bytearray(s * (64 * 1024**2 // len(s)))\nprint(len(big))",
    });
    const b = await inB({
      code: `${READER}\nbig = bytearray(100 * 1024**2)\nend = id(big) + 100 * 1024**2\nprint(len(scan(b'WSA-', b'SECRET', 176 * 65536)), end > 176 * 65536)\nprint(big.count(b'WSA-'))`,
    });
    expect(b.stderr).toBe('');
    expect(b.stdout).toBe('0 True\n0\n');
    // And: the grown memory region read through the reader (not the zeroed bytearray) holds no secret.
    const c = await inB({
      code: `${READER}\nblocks = [bytearray(8 * 1024**2) for _ in range(10)]\nhi = max(id(x) for x in blocks) + 8 * 1024**2\nfor x in blocks: del x\nblocks = None\nprint(len(scan(b'WSA-', b'SECRET', hi)))`,
    });
    expect(c.stderr).toBe('');
    expect(c.stdout).toBe('0\n');
  });

  for (const [name, code] of [
    ['output limit', "import sys\nwhile True: sys.stdout.write('x' * 65536)"],
    ['trap (read past the memory end)', `${READER}\nprint(MEM[0x7ff00000])`],
    [
      'MemoryError at the cap',
      'x = []\ntry:\n    while True: x.append(bytearray(16 * 1024**2))\nexcept MemoryError:\n    pass',
    ],
    ['sys.exit(3)', 'import sys; sys.exit(3)'],
    ['os._exit', 'import os; os._exit(0)'],
  ] as const) {
    it(`A leaves the secret then ends by ${name}; B finds nothing`, async () => {
      await inA({
        code: `s = open('/workspace/secret.txt','rb').read()\nkeep = [bytearray(s * 10) for _ in range(3)]\n${code}`,
      });
      const b = await scanB();
      expect(b.stderr).toBe('');
      expect(b.stdout).toBe('False 0\n');
      // A run that grew the memory hands on none (a new one); every other ending hands it on, zeroed.
      expect(b.memoryReused ?? false).toBe(!name.startsWith('MemoryError'));
    });
  }

  it('the cap holds on a reused memory: B allocates 4 MiB blocks until MemoryError', async () => {
    await inA({ code: 'pass' });
    const b = await inB({
      code: 'x = []\ntry:\n    while True: x.append(bytearray(4 * 1024**2))\nexcept MemoryError:\n    pass\nprint(len(x) * 4)',
    });
    expect(b.memoryReused).toBe(true);
    expect(Number(b.stdout)).toBeLessThanOrEqual(256);
    expect(Number(b.stdout)).toBeGreaterThan(200);
  });

  it('A times out while holding the secret; B finds nothing', async () => {
    const a = await inA({
      code: "s = open('/workspace/secret.txt','rb').read()\nkeep = [bytearray(s * 1000) for _ in range(20)]\nwhile True: pass",
      timeoutMs: 1500,
    });
    expect(a.timedOut).toBe(true);
    const b = await scanB();
    expect(b.stdout).toBe('False 0\n');
  });

  it('concurrent calls: A holds the secret while B (another worker or after) scans', async () => {
    const [a, b] = await Promise.all([
      inA({
        code: "import time\ns = open('/workspace/secret.txt','rb').read()\nkeep = [bytearray(s * 1000) for _ in range(20)]\ntime.sleep(1.5)\nprint('a')",
      }),
      scanB('import time; time.sleep(0.3)'),
    ]);
    expect(a.stdout).toBe('a\n');
    expect(b.stdout).toBe('False 0\n');
    // Then both after each other, twice more, through the one pooled worker.
    await inA({ code: "s = open('/workspace/secret.txt','rb').read() * 7" });
    expect((await scanB()).stdout).toBe('False 0\n');
  });
});
