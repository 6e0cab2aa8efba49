// Loads the bundled CLI (dist/bundle/shadowbox.cjs) with a V8 code cache. Node 20 has neither
// `module.enableCompileCache` nor NODE_COMPILE_CACHE (both Node ≥ 22.1) and caches nothing for ES
// modules; what it has is V8's code cache for scripts (`vm.Script` cachedData, what the
// `v8-compile-cache` package does for require()). The bundle is one CommonJS script, so it can use it:
// the first run of a command compiles as usual and saves what V8 compiled; later runs skip parsing
// and compiling it. A cache is kept per command (`status` compiles far less than `daemon`), named by
// the bundle's content hash, the Node version and architecture, in a private folder
// ($SHADOWBOX_CACHE_DIR, else $XDG_CACHE_HOME/shadowbox, else ~/.cache/shadowbox). V8 itself checks
// its version and flags; the content hash is ours because V8 checks only the source's length.
// Imports only node built-ins: it runs before anything else.
import { closeSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { constants as fsc } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type v8 from 'node:v8';
import vm from 'node:vm';

/**
 * The first line of a bundle written already wrapped in the function a CommonJS module runs in (scripts/bundle.mjs
 * writes its code-cached bundles so; its WRAPPED is the same text). The loader compiles such a file's text as it is;
 * any other file it wraps itself, which costs V8 a second copy of the text (the three strings joined).
 */
export const BUNDLE_HEAD = '(function (exports, require, module, __filename, __dirname) {';

/** The identity the bundle script writes beside the bundle (`shadowbox.cjs.json`). */
interface BundleIdentity {
  sha256: string;
  size: number;
  mtimeMs: number;
  ascii: boolean;
}

/** How a load used the cache: used it, had none (saves one), V8 refused it (saves a new one), or off. */
export type CacheOutcome = 'hit' | 'miss' | 'rejected' | 'off';

/** What loadBundle returns: the bundle's exports and how the cache was used. */
export interface LoadedBundle {
  exports: Record<string, unknown>;
  cache: CacheOutcome;
  /** Writes the cache now if this load needs one (also done at exit and after `saveAfterMs`). */
  save(): void;
}

/** Options of loadBundle; `cacheDir: null` turns the cache off. */
export interface LoadBundleOptions {
  bundleFile: string;
  cacheDir: string | null;
  /** Which cache of this bundle (the subcommand). */
  key: string;
  /** A long-running process saves its cache this long after start (default 10 s). */
  saveAfterMs?: number;
  /** V8 flags set before the bundle is read (the ACP bridge's heap sizing; see docs/editors.md). */
  v8Flags?: string[];
}

/** The cache folder for this environment, or null when turned off (SHADOWBOX_COMPILE_CACHE=0). */
export function defaultCacheDir(env: NodeJS.ProcessEnv): string | null {
  if (env.SHADOWBOX_COMPILE_CACHE === '0') return null;
  if (env.SHADOWBOX_CACHE_DIR) return path.join(env.SHADOWBOX_CACHE_DIR, 'v8');
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : null;
  return path.join(base ?? path.join(os.homedir(), '.cache'), 'shadowbox', 'v8');
}

/** The bundle's identity when its sidecar matches the file on disk (same size and mtime), else null. */
function identityOf(bundleFile: string): BundleIdentity | null {
  try {
    const id = JSON.parse(readFileSync(`${bundleFile}.json`, 'utf8')) as unknown;
    if (typeof id !== 'object' || id === null) return null;
    const { sha256, size, mtimeMs, ascii } = id as Record<string, unknown>;
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return null;
    const st = statSync(bundleFile);
    if (st.size !== size || st.mtimeMs !== mtimeMs) return null;
    return { sha256, size: st.size, mtimeMs: st.mtimeMs, ascii: ascii === true };
  } catch {
    return null;
  }
}

/** Creates the cache folder 0700, or accepts an existing one only if it is ours, private and not a link. */
function privateDir(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = lstatSync(dir);
    const uid = process.getuid?.() ?? st.uid;
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/** Reads a cache file that is a regular file of ours (never through a link). */
function readCache(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    const st = fstatSync(fd);
    if (!st.isFile() || st.uid !== (process.getuid?.() ?? st.uid)) return undefined;
    return readFileSync(fd);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes a cache file atomically (temp + rename) and drops caches of other versions of the same bundle
 * (`family` is the bundle's name: the CLI has several bundles, and each keeps its own caches), and those
 * named before bundles had a family (a bare content hash).
 */
function writeCache(dir: string, file: string, data: Buffer, family: string, keepPrefix: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
    for (const name of readdirSync(dir))
      if ((name.startsWith(family) || /^[0-9a-f]{32}-/.test(name)) && !name.startsWith(keepPrefix))
        rmSync(path.join(dir, name), { force: true });
  } catch {
    rmSync(tmp, { force: true });
  }
}

/**
 * A short name for a text in a cache file's name (FNV-1a, 32 bits, hex; a name, not a check: V8 checks a cache). Not
 * node:crypto, which is not loaded otherwise on the way to a client command. Also the bin's, for long sets of flags.
 */
export function nameHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16);
}

/** The cache folder and key of the bundle loaded last: its parts are cached under the same (loadPart). */
let lastLoad: { cacheDir: string | null; key: string } | null = null;
const partsLoaded = new Map<string, Record<string, unknown>>();

/**
 * A part of the daemon's bundle (scripts/bundle.mjs `parts`: a package it loads on first use), loaded once, through
 * the code cache under the cache folder and key of the bundle that asks for it; its exports by the subpath of the
 * package each one is.
 */
export function loadPart(file: string): Record<string, unknown> {
  let part = partsLoaded.get(file);
  if (!part) {
    const { cacheDir, key } = lastLoad ?? { cacheDir: defaultCacheDir(process.env), key: 'part' };
    part = loadBundle({ bundleFile: file, cacheDir, key }).exports;
    partsLoaded.set(file, part);
  }
  return part;
}

/** Loads the bundled CLI, with its code cache when there is a usable one; never fails because of the cache. */
export function loadBundle(o: LoadBundleOptions): LoadedBundle {
  lastLoad ??= { cacheDir: o.cacheDir, key: o.key };
  // node:v8 is loaded only when there are flags to set (~5 ms of every other command otherwise).
  if (o.v8Flags?.length) {
    const { setFlagsFromString } = createRequire(o.bundleFile)('node:v8') as typeof v8;
    for (const flag of o.v8Flags) setFlagsFromString(flag);
  }
  const id = identityOf(o.bundleFile);
  const source = readFileSync(o.bundleFile, id?.ascii ? 'latin1' : 'utf8');
  const dir = id && o.cacheDir && privateDir(o.cacheDir) ? o.cacheDir : null;
  const family = `${path.basename(o.bundleFile, path.extname(o.bundleFile)).replace(/[^a-z0-9]/gi, '_')}-`;
  const prefix = id ? `${family}${id.sha256.slice(0, 32)}-${process.version}-${process.arch}-` : '';
  // Per path too: a code cache hit keeps the file name the script had when the cache was made, so a cache shared by
  // two installs of one build (a checkout and a global install, two CI clones) named the other in every stack trace.
  const name = `${prefix}${nameHash(o.bundleFile)}-${o.key.replace(/[^a-z0-9-]/g, '_')}.bin`;
  const cacheFile = dir ? path.join(dir, name) : null;
  const cachedData = cacheFile ? readCache(cacheFile) : undefined;
  const wrapped = source.startsWith(BUNDLE_HEAD);
  const script = new vm.Script(wrapped ? source : `${BUNDLE_HEAD}\n${source}\n})`, {
    filename: o.bundleFile,
    // Line 1 of the file is line 1 of the script; the loader's own wrapper line is not the file's.
    lineOffset: wrapped ? 0 : -1,
    ...(cachedData ? { cachedData } : {}),
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const cache: CacheOutcome = !cacheFile
    ? 'off'
    : !cachedData
      ? 'miss'
      : script.cachedDataRejected
        ? 'rejected'
        : 'hit';
  let saved = cache === 'hit' || cache === 'off';
  const save = () => {
    if (saved || !dir || !cacheFile) return;
    saved = true;
    writeCache(dir, cacheFile, script.createCachedData(), family, prefix);
  };
  if (!saved) {
    process.once('exit', save);
    setTimeout(save, o.saveAfterMs ?? 10_000).unref();
  }
  const mod = { exports: {} as Record<string, unknown> };
  const fn = script.runInThisContext() as (...a: unknown[]) => void;
  fn(mod.exports, createRequire(o.bundleFile), mod, o.bundleFile, path.dirname(o.bundleFile));
  return { exports: mod.exports, cache, save };
}
