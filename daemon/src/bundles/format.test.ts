import { describe, expect, it } from 'vitest';
import { canonicalBytes, generateKey, publicOf, sha256Hex, signBytes, verifyBytes } from './crypto.js';
import { isSafeRelativePath, parseManifest } from './manifest.js';
import { readTar, TarReader, type TarPiece, writeTar } from './tar.js';
import { seeded } from '../shadow/fault-support.js';
import { testManifest } from './test-fixtures.js';
import { mapToolInput } from './tool-args.js';

function tarWithHeader(edit: (h: Buffer) => void): Buffer {
  const tar = writeTar([{ path: 'files/a', bytes: Buffer.from('x') }], 0);
  const h = tar.subarray(0, 512);
  edit(h);
  h.write('        ', 148, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return tar;
}

describe('deterministic archive', () => {
  it('same entries in any order give the same bytes, and round-trip', () => {
    const a = writeTar(
      [
        { path: 'b', bytes: Buffer.from('2') },
        { path: 'a/x', bytes: Buffer.from('1') },
      ],
      1700000000,
    );
    const b = writeTar(
      [
        { path: 'a/x', bytes: Buffer.from('1') },
        { path: 'b', bytes: Buffer.from('2') },
      ],
      1700000000,
    );
    expect(sha256Hex(a)).toBe(sha256Hex(b));
    expect(readTar(a).map((e) => [e.path, e.bytes.toString()])).toEqual([
      ['a/x', '1'],
      ['b', '2'],
    ]);
  });

  it('stores long paths in the ustar prefix field', () => {
    const long = `${'d'.repeat(80)}/${'e'.repeat(60)}/file.bin`;
    expect(readTar(writeTar([{ path: long, bytes: Buffer.from('z') }], 0))[0].path).toBe(long);
  });

  it('refuses links, devices, unsafe and duplicate paths, and bad checksums', () => {
    for (const type of ['1', '2', '3', '4', '6']) {
      expect(() => readTar(tarWithHeader((h) => h.write(type, 156, 'ascii'))), type).toThrow(
        expect.objectContaining({ data: expect.objectContaining({ reason: 'invalid_path' }) }),
      );
    }
    for (const p of ['/etc/passwd', '../up', 'a/../b', './a']) {
      expect(() => readTar(tarWithHeader((h) => h.fill(0, 0, 100).write(p, 0, 'utf8'))), p).toThrow(
        expect.objectContaining({ data: expect.objectContaining({ reason: 'invalid_path' }) }),
      );
    }
    const one = writeTar([{ path: 'a', bytes: Buffer.from('1') }], 0);
    const twice = Buffer.concat([one.subarray(0, 1024), one]);
    expect(() => readTar(twice)).toThrow(
      expect.objectContaining({ data: expect.objectContaining({ reason: 'invalid_path' }) }),
    );
    const bad = Buffer.from(one);
    bad[0] = 'b'.charCodeAt(0);
    expect(() => readTar(bad)).toThrow(
      expect.objectContaining({ data: expect.objectContaining({ reason: 'archive_invalid' }) }),
    );
  });
  it('streamed in chunks of any size (headers and files split between them), it reads the same files', () => {
    const files = [
      { path: 'files/empty', bytes: Buffer.alloc(0) },
      { path: 'files/one', bytes: Buffer.from('1') },
      { path: 'files/block', bytes: Buffer.alloc(512, 'b') },
      { path: 'files/big.bin', bytes: Buffer.from(Array.from({ length: 70_001 }, (_, i) => (i * 31) % 251)) },
      { path: 'manifest.json', bytes: Buffer.from('{}') },
    ];
    const tar = writeTar(files, 1700000000);
    const whole = new Map(readTar(tar).map((e) => [e.path, sha256Hex(e.bytes)]));
    const rand = seeded(0x7a5);
    for (let round = 0; round < 40; round++) {
      const reader = new TarReader();
      const got = new Map<string, TarPiece[]>();
      for (let at = 0; at < tar.length;) {
        // 1 byte to a few blocks per chunk; a copy, as a reused read buffer would be overwritten after.
        const n = Math.min(tar.length - at, 1 + Math.floor(rand() * (round % 2 ? 3000 : 600)));
        for (const p of reader.write(Buffer.from(tar.subarray(at, at + n))))
          got.set(p.path, [...(got.get(p.path) ?? []), { ...p, bytes: Buffer.from(p.bytes) }]);
        at += n;
      }
      reader.end();
      expect(new Map([...got].map(([k, ps]) => [k, sha256Hex(Buffer.concat(ps.map((p) => p.bytes)))]))).toEqual(whole);
      // Each file's pieces: the first marked first, the last marked last, none between them either.
      for (const ps of got.values())
        expect(ps.map((p) => [p.first, p.last])).toEqual(ps.map((_, i) => [i === 0, i === ps.length - 1]));
    }
  });

  it('an archive that ends inside a header or a file is refused (archive_invalid), not read as shorter', () => {
    const tar = writeTar([{ path: 'files/a', bytes: Buffer.alloc(2000, 'a') }], 0);
    for (const cut of [100, 512 + 1000, 512 + 2000 + 10]) {
      const reader = new TarReader();
      reader.write(tar.subarray(0, cut));
      expect(() => reader.end(), String(cut)).toThrow(
        expect.objectContaining({ data: expect.objectContaining({ reason: 'archive_invalid' }) }),
      );
    }
    // Cut where the entry and its padding end, before the end-of-archive blocks: whole, accepted.
    const reader = new TarReader();
    expect(reader.write(tar.subarray(0, 512 + 2048)).map((p) => p.bytes.length)).toEqual([2000]);
    expect(() => reader.end()).not.toThrow();
  });
});

describe('manifest', () => {
  it('accepts only normalized relative paths', () => {
    for (const p of ['bin/x.wasm', 'a', 'lib/python3.11/os.py']) expect(isSafeRelativePath(p), p).toBe(true);
    for (const p of ['', '/abs', '../x', 'a/../b', 'a//b', 'a/./b', './a', 'a/', 'a\\b', 'a\0b'])
      expect(isSafeRelativePath(p), p).toBe(false);
  });

  it('refuses duplicates (case-insensitive), a file nested under a file, and dangling entries/tools', () => {
    const dup = testManifest('demo', '1.0.0', { 'bin/A.wasm': 'x', 'bin/a.wasm': 'y' });
    expect(() => parseManifest(dup)).toThrow(
      expect.objectContaining({ data: expect.objectContaining({ reason: 'invalid_path' }) }),
    );
    const nested = testManifest('demo', '1.0.0', { 'bin/x': 'x', 'bin/x/y': 'y' });
    expect(() => parseManifest(nested)).toThrow(
      expect.objectContaining({ data: expect.objectContaining({ reason: 'invalid_path' }) }),
    );
    const dangling = testManifest('demo', '1.0.0', { 'bin/x': 'x' });
    (dangling.entries as Array<{ path: string }>)[0].path = 'bin/missing';
    expect(() => parseManifest(dangling)).toThrow(
      expect.objectContaining({ data: expect.objectContaining({ reason: 'manifest_invalid' }) }),
    );
    expect(() => parseManifest({ ...testManifest('demo', '1.6', { a: 'x' }) })).toThrow(
      expect.objectContaining({ data: expect.objectContaining({ reason: 'manifest_invalid' }) }),
    );
  });

  it('signs canonical JSON: key order and whitespace do not matter, one changed value does', () => {
    const k = generateKey();
    const m = testManifest('demo', '1.0.0', { a: 'x' });
    const sig = signBytes(k, canonicalBytes(m));
    const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(m).reverse()), null, 4)) as unknown;
    expect(verifyBytes(publicOf(k), canonicalBytes(reordered), sig.sig)).toBe(true);
    expect(verifyBytes(publicOf(k), canonicalBytes({ ...m, description: 'other' }), sig.sig)).toBe(false);
  });
});

describe('tool input mapping', () => {
  const manifest = parseManifest({
    ...testManifest('sq', '1.0.0', { 'bin/sq.wasm': 'x' }),
    entries: [{ name: 'sq', path: 'bin/sq.wasm', env: { HOME: '/nonexistent' } }],
    tools: [
      {
        name: 'sq',
        description: 'd',
        entry: 'sq',
        kind: 'execute',
        inputSchema: { type: 'object' },
        argv: [
          { literal: '-bail' },
          { literal: '-readonly', when: 'readonly' },
          { arg: 'mode', optional: true, prefix: '-' },
          { arg: 'db', workspacePath: true, default: ':memory:' },
        ],
        stdin: { arg: 'sql' },
      },
    ],
  });
  const tool = manifest.tools[0];

  it('maps literals, conditional flags, prefixes, defaults, workspace paths and stdin', () => {
    expect(mapToolInput(tool, { sql: 'select 1' }, manifest)).toEqual({
      entry: 'sq',
      argv: ['-bail', ':memory:'],
      stdin: 'select 1',
      env: { HOME: '/nonexistent' },
    });
    expect(mapToolInput(tool, { sql: 's', db: './data/app.db', mode: 'json', readonly: true }, manifest).argv).toEqual([
      '-bail',
      '-readonly',
      '-json',
      '/workspace/data/app.db',
    ]);
  });

  it('refuses paths outside the workspace and non-scalar values', () => {
    for (const db of ['../x.db', '/etc/passwd', 'a/../../x']) {
      expect(() => mapToolInput(tool, { sql: 's', db }, manifest), db).toThrow(
        expect.objectContaining({ data: expect.objectContaining({ reason: 'path_escape' }) }),
      );
    }
    expect(() => mapToolInput(tool, { sql: 's', mode: ['json'] }, manifest)).toThrow(
      expect.objectContaining({ data: expect.objectContaining({ reason: 'argv_not_scalar' }) }),
    );
  });
});
