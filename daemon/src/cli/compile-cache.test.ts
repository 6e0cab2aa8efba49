import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUNDLE_HEAD, defaultCacheDir, loadBundle } from './compile-cache.js';

let dir: string;
let bundleFile: string;
let cacheDir: string;

/** Writes a CommonJS "bundle" and the identity sidecar the bundle script writes. */
function writeBundle(source: string, sha = 'a'.repeat(64)) {
  writeFileSync(bundleFile, source);
  const st = statSync(bundleFile);
  writeFileSync(`${bundleFile}.json`, JSON.stringify({ sha256: sha, size: st.size, mtimeMs: st.mtimeMs, ascii: true }));
}

const load = (key = 'status') => loadBundle({ bundleFile, cacheDir, key, saveAfterMs: 3_600_000 });

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'sbx-cc-'));
  bundleFile = path.join(dir, 'shadowbox.cjs');
  cacheDir = path.join(dir, 'cache', 'v8');
  writeBundle('exports.main = function main() { return 40 + 2; };\nexports.file = __filename;\n');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loadBundle', () => {
  it('runs the bundle as CommonJS; the first load saves a code cache, the next one uses it', () => {
    const first = load();
    expect((first.exports.main as () => number)()).toBe(42);
    expect(first.exports.file).toBe(bundleFile);
    expect(first.cache).toBe('miss');
    first.save();
    expect(readdirSync(cacheDir)).toHaveLength(1);
    expect(statSync(cacheDir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(cacheDir, readdirSync(cacheDir)[0])).mode & 0o777).toBe(0o600);
    expect(load().cache).toBe('hit');
  });

  it('from a code-cache hit a builtin loads with process.getBuiltinModule, not with import() (why scripts/bundle.mjs refuses them)', () => {
    writeBundle(
      "exports.viaBuiltin = async () => process.getBuiltinModule('node:os').platform();\n" +
        "exports.viaImport = async () => (await import('node:os')).platform();\n",
    );
    // In a fresh process each time: within one process V8 reuses its in-memory compilation, not the file.
    const loader = fileURLToPath(new URL('../../dist/bundle/loader.cjs', import.meta.url));
    const run = (fn: string) =>
      execFileSync(
        process.execPath,
        [
          '--no-warnings',
          '-e',
          `const { loadBundle } = require(${JSON.stringify(loader)});
         const r = loadBundle({ bundleFile: ${JSON.stringify(bundleFile)}, cacheDir: ${JSON.stringify(cacheDir)}, key: 't' });
         r.save();
         r.exports.${fn}().then((v) => process.stdout.write(r.cache + ' ' + v), (e) => process.stdout.write(r.cache + ' ' + e.code));`,
        ],
        { stdio: 'pipe' },
      ).toString();
    expect(run('viaBuiltin')).toBe(`miss ${os.platform()}`);
    expect(run('viaBuiltin')).toBe(`hit ${os.platform()}`);
    expect(run('viaImport')).toBe(`hit ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING`);
  });

  it('keeps one cache per path of the bundle: a hit names the file the script had when its cache was made', () => {
    // Two installs of one build (the same content hash), as a checkout and a global install, or two CI clones.
    const source = "exports.where = () => new Error('x').stack.split('\\n')[1];\n";
    writeBundle(source);
    const other = path.join(dir, 'other', 'shadowbox.cjs');
    mkdirSync(path.dirname(other));
    writeFileSync(other, source);
    const st = statSync(other);
    writeFileSync(
      `${other}.json`,
      JSON.stringify({ sha256: 'a'.repeat(64), size: st.size, mtimeMs: st.mtimeMs, ascii: true }),
    );
    // In a fresh process each time: within one process V8 reuses its in-memory compilation, not the file.
    const loader = fileURLToPath(new URL('../../dist/bundle/loader.cjs', import.meta.url));
    const run = (file: string) =>
      execFileSync(process.execPath, [
        '-e',
        `const { loadBundle } = require(${JSON.stringify(loader)});
         const r = loadBundle({ bundleFile: ${JSON.stringify(file)}, cacheDir: ${JSON.stringify(cacheDir)}, key: 't' });
         r.save();
         process.stdout.write(r.cache + ' ' + r.exports.where());`,
      ]).toString();
    expect(run(bundleFile)).toMatch(new RegExp(`^miss .*\\(${bundleFile}:`));
    expect(run(other)).toMatch(new RegExp(`^miss .*\\(${other}:`));
    expect(run(other)).toMatch(new RegExp(`^hit .*\\(${other}:`));
    expect(run(bundleFile)).toMatch(new RegExp(`^hit .*\\(${bundleFile}:`));
    expect(readdirSync(cacheDir)).toHaveLength(2);
  });

  it("compiles a bundle written already wrapped as it is: the same module, its stack traces at the file's lines", () => {
    const body = "exports.main = () => 40 + 2;\nexports.where = () => new Error('x').stack.split('\\n')[1];\n";
    // Wrapped by the loader: line 1 of the file is still line 1 in a stack trace.
    writeBundle(body);
    expect((load().exports.where as () => string)()).toContain(`${bundleFile}:2:`);
    writeBundle(`${BUNDLE_HEAD}\n"use strict";\nexports.file = __filename;\n${body}})\n`, 'e'.repeat(64));
    const first = load();
    expect(first.cache).toBe('miss');
    expect((first.exports.main as () => number)()).toBe(42);
    expect(first.exports.file).toBe(bundleFile);
    expect((first.exports.where as () => string)()).toContain(`${bundleFile}:5:`);
    first.save();
    const again = load();
    expect(again.cache).toBe('hit');
    expect((again.exports.where as () => string)()).toContain(`${bundleFile}:5:`);
  });

  it('keeps one cache per command', () => {
    load('status').save();
    load('daemon').save();
    expect(readdirSync(cacheDir)).toHaveLength(2);
    expect(load('daemon').cache).toBe('hit');
  });

  it('a rebuilt bundle (new content hash) does not use the old cache, and its save drops it', () => {
    load().save();
    writeBundle('exports.main = function main() { return 7; };\n', 'b'.repeat(64));
    const next = load();
    expect(next.cache).toBe('miss');
    expect((next.exports.main as () => number)()).toBe(7);
    next.save();
    expect(readdirSync(cacheDir)).toHaveLength(1);
    expect(readdirSync(cacheDir)[0].startsWith(`shadowbox-${'b'.repeat(32)}`)).toBe(true);
  });

  it("two bundles in one cache folder keep each other's caches (a save drops only its own old versions)", () => {
    load('status').save();
    const other = path.join(dir, 'client.cjs');
    writeFileSync(other, 'exports.main = function main() { return 3; };\n');
    const st = statSync(other);
    writeFileSync(
      `${other}.json`,
      JSON.stringify({ sha256: 'c'.repeat(64), size: st.size, mtimeMs: st.mtimeMs, ascii: true }),
    );
    const loadOther = () => loadBundle({ bundleFile: other, cacheDir, key: 'status', saveAfterMs: 3_600_000 });
    loadOther().save();
    expect(readdirSync(cacheDir)).toHaveLength(2);
    expect(load('status').cache).toBe('hit');
    expect(loadOther().cache).toBe('hit');
    // A cache named before bundles had names (a bare content hash) is dropped by the next save.
    writeFileSync(path.join(cacheDir, `${'d'.repeat(32)}-v20.0.0-x64-status.bin`), 'old', { mode: 0o600 });
    load('daemon').save();
    const names = readdirSync(cacheDir);
    expect(names).toHaveLength(3);
    expect(names.filter((n) => n.startsWith(`client-${'c'.repeat(32)}-`))).toHaveLength(1);
    expect(names.filter((n) => n.startsWith(`shadowbox-${'a'.repeat(32)}-`))).toHaveLength(2);
  });

  it('no cache when the sidecar does not describe the file on disk (edited after the build)', () => {
    writeFileSync(bundleFile, 'exports.main = function main() { return 1; };\n');
    const r = load();
    expect(r.cache).toBe('off');
    expect((r.exports.main as () => number)()).toBe(1);
  });

  it('never uses a cache folder others can write, nor a cache file that is a link', () => {
    mkdirSync(cacheDir, { recursive: true });
    chmodSync(cacheDir, 0o777);
    expect(load().cache).toBe('off');
    chmodSync(cacheDir, 0o700);
    load().save();
    const [name] = readdirSync(cacheDir);
    const target = path.join(dir, 'elsewhere.bin');
    writeFileSync(target, 'not a cache');
    const file = path.join(cacheDir, name);
    rmSync(file);
    symlinkSync(target, file);
    expect(load().cache).toBe('miss');
  });

  it('sets the V8 flags it is given before it compiles the bundle (the ACP bridge runs with its own)', () => {
    // Syntax that compiles only under --allow-natives-syntax; in a child process, as V8 flags are process-wide.
    writeBundle('exports.main = function main() { return typeof %GetOptimizationStatus(main); };\n');
    const loader = fileURLToPath(new URL('../../dist/bundle/loader.cjs', import.meta.url));
    const run = (v8Flags: string[]) =>
      execFileSync(
        process.execPath,
        [
          '-e',
          `const { loadBundle } = require(${JSON.stringify(loader)});
         const o = { bundleFile: ${JSON.stringify(bundleFile)}, cacheDir: null, key: 't', v8Flags: ${JSON.stringify(v8Flags)} };
         process.stdout.write(loadBundle(o).exports.main());`,
        ],
        { stdio: 'pipe' },
      ).toString();
    expect(run(['--allow-natives-syntax'])).toBe('number');
    expect(() => run([])).toThrow(/SyntaxError/);
  });

  it('the cache folder: SHADOWBOX_CACHE_DIR, XDG_CACHE_HOME, ~/.cache; SHADOWBOX_COMPILE_CACHE=0 turns it off', () => {
    expect(defaultCacheDir({ SHADOWBOX_CACHE_DIR: '/c' })).toBe('/c/v8');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/shadowbox/v8');
    expect(defaultCacheDir({ XDG_CACHE_HOME: 'relative' })).toBe(path.join(os.homedir(), '.cache/shadowbox/v8'));
    expect(defaultCacheDir({ SHADOWBOX_COMPILE_CACHE: '0', SHADOWBOX_CACHE_DIR: '/c' })).toBeNull();
  });
});

describe('the bin', () => {
  it("keeps one code cache per set of node flags (V8 refuses a cache made under other flags: one set must not evict another's)", () => {
    const bin = fileURLToPath(new URL('../../bin/shadowbox.js', import.meta.url));
    const env = { ...process.env, SHADOWBOX_CACHE_DIR: path.join(dir, 'c') };
    const run = (flags: string[]) => execFileSync(process.execPath, [...flags, bin, '--version'], { env }).toString();
    const v = run([]);
    expect(run(['--min-semi-space-size=2'])).toBe(v);
    const names = readdirSync(path.join(dir, 'c', 'v8')).sort();
    expect(names).toHaveLength(2);
    expect(names.filter((n) => n.includes('min-semi-space-size'))).toHaveLength(1);
    // Each is a hit from now on: run again under either flags, neither file is written again.
    const before = names.map((n) => statSync(path.join(dir, 'c', 'v8', n)).mtimeMs);
    run([]);
    run(['--min-semi-space-size=2']);
    expect(names.map((n) => statSync(path.join(dir, 'c', 'v8', n)).mtimeMs)).toEqual(before);
  });

  it('counts NODE_OPTIONS among the flags, and names a long set of flags by its hash', () => {
    const bin = fileURLToPath(new URL('../../bin/shadowbox.js', import.meta.url));
    const cache = path.join(dir, 'c', 'v8');
    const run = (nodeOptions: string | undefined) => {
      const env: NodeJS.ProcessEnv = { ...process.env, SHADOWBOX_CACHE_DIR: path.join(dir, 'c') };
      if (nodeOptions === undefined) delete env.NODE_OPTIONS;
      else env.NODE_OPTIONS = nodeOptions;
      return execFileSync(process.execPath, [bin, '--version'], { env }).toString();
    };
    const long = '--max-old-space-size=4096 --max-semi-space-size=16 --no-deprecation --no-warnings';
    const v = run(undefined);
    expect(run('--max-old-space-size=4096')).toBe(v);
    expect(run(long)).toBe(v);
    const names = readdirSync(cache).sort();
    expect(names).toHaveLength(3);
    expect(names.every((n) => n.length < 160)).toBe(true);
    // A person whose editor sets NODE_OPTIONS and whose terminal does not: no start rewrites a cache.
    const before = names.map((n) => statSync(path.join(cache, n)).mtimeMs);
    run('--max-old-space-size=4096');
    run(undefined);
    run(long);
    expect(names.map((n) => statSync(path.join(cache, n)).mtimeMs)).toEqual(before);
  });
});
