// The launcher's JSON reader (json.c) against JSON.parse: what it reads from JSON.stringify's output, written back,
// must be what Node's client would print for the same value (strings as UTF-8, a lone surrogate as U+FFFD, NULs kept);
// what JSON.parse refuses, it refuses. Through a harness (test/json-check.c) compiled here with the system's C
// compiler; without one the launcher is not built either (scripts/build-launcher.mjs), and this suite says so.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));
const cc = process.env.CC || 'cc';
const hasCc = spawnSync(cc, ['--version']).status === 0;
const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-json-'));
const harness = path.join(dir, 'json-check');
if (hasCc)
  execFileSync(cc, [
    ...(JSON.parse(readFileSync(path.join(here, '../cflags.json'), 'utf8')) as string[]),
    `-I${here}`,
    '-o',
    harness,
    path.join(here, '../test/json-check.c'),
    path.join(here, 'json.c'),
    '-lm',
  ]);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const read = (doc: string | Buffer) => spawnSync(harness, { input: doc });
const decode = (bytes: Uint8Array) => spawnSync(harness, ['--utf8'], { input: bytes }).stdout;

/** A value as Node's client prints it: every string through UTF-8 (a lone surrogate becomes U+FFFD). */
const asPrinted = (v: unknown): unknown =>
  typeof v === 'string'
    ? Buffer.from(v, 'utf8').toString('utf8')
    : Array.isArray(v)
      ? v.map(asPrinted)
      : v && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [asPrinted(k), asPrinted(x)]))
        : v;

// Any UTF-16 code unit, so lone surrogates and NULs come up, plus the characters JSON escapes.
const unit = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.constantFrom('\0', '"', '\\', '\n', '\u001f', '\ud800', '\udfff', '\u{1f600}', 'é'),
);
const text = fc.string({ unit, maxLength: 40 });
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    text,
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 5 }),
    fc.dictionary(text, tie('v'), { maxKeys: 5 }),
  ),
})).v;

describe.skipIf(!hasCc)(`the launcher's JSON reader (needs a C compiler: ${cc})`, () => {
  it('reads what JSON.stringify writes as JSON.parse does, strings as Node prints them', () => {
    fc.assert(
      fc.property(value, (v) => {
        const r = read(JSON.stringify(v));
        expect(r.status).toBe(0);
        const back = JSON.parse(r.stdout.toString('utf8')) as unknown;
        // JSON has one zero: -0 and 0 print alike.
        expect(JSON.stringify(back)).toBe(JSON.stringify(asPrinted(v)));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps NULs, pairs surrogates, and makes a lone surrogate U+FFFD', () => {
    const r = read('"a\\u0000b\\ud83d\\ude00c\\ud800d\\udc00e\\ud800\\u0041"');
    expect(r.stdout.toString('utf8')).toBe(JSON.stringify('a\0b\u{1f600}c\ufffdd\ufffde\ufffdA'));
  });

  it('refuses what JSON.parse refuses', () => {
    const bad = [
      '',
      '{',
      '[1,]',
      '{"a":1,}',
      '{"a" 1}',
      '{a:1}',
      '"\\x"',
      '"\\u12"',
      '01',
      '-01',
      '1.',
      '.5',
      '1e',
      '+1',
      '"a\nb"',
      'tru',
      'nul',
      '[1] 2',
      "'a'",
      'NaN',
    ];
    for (const doc of bad) {
      expect(() => {
        JSON.parse(doc);
      }, doc).toThrow();
      expect(read(doc).status, doc).toBe(1);
    }
  });

  it("decodes bytes as Buffer's toString('utf8') does, each invalid run as U+FFFD (piped stdin)", () => {
    // Bytes near UTF-8's edges come up often: lead bytes, continuation bytes, the surrogate and overlong ranges.
    const byte = fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x00, 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff),
    );
    fc.assert(
      fc.property(fc.array(byte, { maxLength: 24 }), (bytes) => {
        const buf = Buffer.from(bytes);
        const decoded = Buffer.from(buf.toString('utf8'), 'utf8');
        expect(decode(buf).equals(decoded)).toBe(true);
        // Well-formed exactly when Node's decoding gives the same bytes back (the check the launcher's arguments get).
        expect(spawnSync(harness, ['--valid'], { input: buf }).stdout.toString()).toBe(
          decoded.equals(buf) ? 'valid' : 'invalid',
        );
      }),
      { numRuns: 400 },
    );
  });

  it('reads 512 levels of nesting and refuses a 513th', () => {
    expect(read(`${'['.repeat(512)}${']'.repeat(512)}`).status).toBe(0);
    expect(read(`${'['.repeat(513)}${']'.repeat(513)}`).status).toBe(1);
    expect(read('['.repeat(100_000)).status).toBe(1);
  });
});
