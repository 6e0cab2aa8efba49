import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import { parseIndex } from './channel-index.js';
import { createContext, type BundleServiceOptions } from './context.js';
import { createInstaller, newest, type BundleSummary, type ProgressSink } from './install.js';
import { list, verifyPath, type VerifyPathResult } from './inspect.js';
import {
  claimEntry,
  loadBundle,
  loadManifest,
  locateBundle,
  type ClaimedEntry,
  type LoadedBundle,
  type LocatedBundle,
} from './load.js';
import type { Manifest } from './manifest.js';
import { serveMirror, type MirrorHandler } from './mirror-server.js';
import { dirSource, sourceFor, type MirrorSource } from './sources.js';
import { addTrustedKey } from './trust-store.js';
import { refuse } from './trust.js';

export { REPO_ROOT, type BundleServiceOptions } from './context.js';
export { newest, type BundleSummary, type InstallProgress, type ProgressSink } from './install.js';
export type { VerifyPathResult } from './inspect.js';

/** Verifies, installs, stores and loads signed bundles; serves a mirror folder. */
export interface BundleService {
  /** Installed bundles plus the ones the local build output offers (not yet installed). */
  list(): Promise<BundleSummary[]>;
  /** Verifies an archive, version folder or unpacked folder against the trust root (and its index when in a mirror tree). */
  verifyPath(path: string): Promise<VerifyPathResult>;
  /**
   * `mirror`: an http(s) URL (another daemon's /bundles/, a static server) or a mirror-shaped folder;
   * without one, the first-use sources in order: the local output, the installed `@shadowbox/bundle-<name>`
   * package, defaultMirror.
   */
  install(
    p: { name: string; version?: string; mirror?: string | URL },
    onProgress?: ProgressSink,
  ): Promise<BundleSummary>;
  /** What a runner needs, after the cheap check; installs from the first-use sources (see install) when missing. */
  load(name: string, version?: string): Promise<LoadedBundle>;
  /**
   * As load, without reading the default entry: its reader hashes what it reads against `entry` (python's
   * worker thread, which compiles CPython off the main thread).
   */
  locate(name: string, version?: string): Promise<LocatedBundle>;
  /**
   * What the newest installed version's manifest names as its default entry, read without any check (no
   * signature, no file, no install; null when there is nothing to read): only for work that may start early and is
   * used once `locate` gives the same file, hash and size (python's compile, PythonDeps.claimBundle), or that goes
   * through `locate` itself (the daemon starts python's warm-up at once when there is one: a forged claim fails there).
   */
  claimedEntry(name: string): Promise<ClaimedEntry | null>;
  /**
   * An installed bundle's signed manifest, found (and installed when missing) as load finds it, checked as load
   * checks it, without reading its files: what its tools are. Running one goes through load.
   */
  manifest(name: string, version?: string): Promise<Manifest>;
  /** Trusts a developer key explicitly (loud warning, audited). */
  trustKey(file: string): Promise<{ keyId: string }>;
  /** A node http handler serving a mirror folder (default: the local output) under /bundles/. */
  serveMirror(dir?: string): MirrorHandler;
}

/** Creates the bundle service over a state dir (store, trusted root, index state, trusted keys). */
export function createBundleService(opts: BundleServiceOptions): BundleService {
  const ctx = createContext(opts);
  const { store, localOutputDir, channel, clock } = ctx;
  const installAudited = createInstaller(ctx);

  // Where a bundle comes from when no mirror is named: this checkout's build, the npm package, the configured mirror.
  function firstUseSources(name: string): MirrorSource[] {
    const pkg = ctx.bundlePackageDir(name);
    return [
      dirSource(localOutputDir, true),
      ...(pkg ? [{ ...dirSource(pkg, false), label: `package:${pkg}` }] : []),
      ...(opts.defaultMirror ? [sourceFor(opts.defaultMirror, localOutputDir, opts.fetch)] : []),
    ];
  }

  // One first-use install per bundle at a time: a second caller (the CLI's `bundles/install` while the daemon's
  // python warm-up installs it at start) waits for the one in flight instead of doing the work twice; only the
  // first caller gets its progress.
  const inFlight = new Map<string, Promise<BundleSummary>>();
  function installFirstUse(name: string, version: string | undefined, onProgress?: ProgressSink) {
    const key = `${name}@${version ?? ''}`;
    let p = inFlight.get(key);
    if (!p) {
      p = installFromSources(name, version, onProgress).finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  }

  // The first source that installs it wins; when all fail, the most telling refusal is reported.
  async function installFromSources(name: string, version: string | undefined, onProgress?: ProgressSink) {
    let lastError: Error | null = null;
    for (const s of firstUseSources(name)) {
      try {
        return await installAudited(s, name, version, onProgress);
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        // "not found here" must not hide a real refusal (a tampered package) from an earlier source.
        if (!lastError || !isShadowboxError(err) || err.code !== ErrorCodes.BundleNotFound) lastError = err;
      }
    }
    throw lastError ?? new ShadowboxError(ErrorCodes.BundleNotFound, 'not_in_index', `no source offers ${name}`);
  }

  async function install(
    p: { name: string; version?: string; mirror?: string | URL },
    onProgress?: ProgressSink,
  ): Promise<BundleSummary> {
    if (!p.mirror) return installFirstUse(p.name, p.version, onProgress);
    return installAudited(sourceFor(String(p.mirror), localOutputDir, opts.fetch), p.name, p.version, onProgress);
  }

  // In dev, a rebuilt local bundle replaces the installed one on the next load (re-verified on install).
  async function localChanged(name: string, version: string, installedSha: string): Promise<boolean> {
    const raw = await readFile(join(localOutputDir, channel, 'index.json'), 'utf8').catch(() => null);
    if (!raw) return false;
    try {
      const listed = parseIndex(JSON.parse(raw) as unknown).signed.bundles[name]?.[version]?.manifestSha256;
      return listed !== undefined && listed !== installedSha;
    } catch {
      return false;
    }
  }

  // Which installed version load and manifest use, and the authority that installed it.
  async function resolveInstalled(name: string, version?: string) {
    let installed = (await store.readInstalled()).bundles[name] ?? {};
    let v = version ?? newest(Object.keys(installed));
    if (!v || !installed[v]) {
      v = (await installFirstUse(name, version, opts.onProgress)).version;
      installed = (await store.readInstalled()).bundles[name] ?? {};
    } else if (installed[v].source === 'local' && (await localChanged(name, v, installed[v].manifestSha256))) {
      await installAudited(dirSource(localOutputDir, true), name, v);
      installed = (await store.readInstalled()).bundles[name] ?? {};
    }
    let rec = v ? installed[v] : undefined;
    if (!v || !rec)
      throw new ShadowboxError(
        ErrorCodes.BundleNotFound,
        'not_installed',
        `bundle ${name}${version ? `@${version}` : ''} is not installed`,
        { name },
      );
    let auths = await ctx.loadAuthorities(rec.source === 'local', clock());
    if (rec.source === 'local' && !auths.some((a) => a.id === rec?.authority)) {
      // The checkout's local key changed (new checkout, wiped .cache): reinstall from the local output, fully verified.
      await installAudited(dirSource(localOutputDir, true), name, v);
      rec = (await store.readInstalled()).bundles[name]?.[v] ?? rec;
      auths = await ctx.loadAuthorities(true, clock());
    }
    const authority = auths.find((a) => a.id === rec?.authority);
    if (!authority)
      throw refuse('unknown_key', `the key that signed ${name}@${v} is no longer trusted`, {
        authority: rec.authority,
      });
    return { manifestSha256: rec.manifestSha256, authority, expected: { name, version: v } };
  }

  async function load(name: string, version?: string): Promise<LoadedBundle> {
    const r = await resolveInstalled(name, version);
    return loadBundle(store, r.manifestSha256, r.authority, r.expected);
  }

  async function locate(name: string, version?: string): Promise<LocatedBundle> {
    const r = await resolveInstalled(name, version);
    return locateBundle(store, r.manifestSha256, r.authority, r.expected);
  }

  async function claimedEntry(name: string): Promise<ClaimedEntry | null> {
    try {
      const installed = (await store.readInstalled()).bundles[name] ?? {};
      const v = newest(Object.keys(installed));
      return v && installed[v] ? await claimEntry(store, installed[v].manifestSha256) : null;
    } catch {
      return null;
    }
  }

  async function manifest(name: string, version?: string): Promise<Manifest> {
    const r = await resolveInstalled(name, version);
    return loadManifest(store, r.manifestSha256, r.authority, r.expected);
  }

  async function trustKey(file: string): Promise<{ keyId: string }> {
    const { keyId, added } = await addTrustedKey(store.root, resolve(file), clock());
    opts.logger?.warn('TRUSTING A DEVELOPER KEY: bundles signed by it will be installed and run like official ones', {
      keyId,
      file,
    });
    await ctx.audit('bundle.trust', { keyId, file: resolve(file), added });
    return { keyId };
  }

  return {
    list: () => list(ctx),
    verifyPath: (p) => verifyPath(ctx, p),
    install,
    load,
    locate,
    claimedEntry,
    manifest,
    trustKey,
    serveMirror: (dir) => serveMirror(dir ?? localOutputDir),
  };
}
