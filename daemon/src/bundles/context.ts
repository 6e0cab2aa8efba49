import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { AuditSink } from '../audit/index.js';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { parseIndex, verifyIndex, IndexStateSchema, type VerifiedIndex } from './channel-index.js';
import { writeFileAtomic } from '../state/index.js';
import type { InstallProgress } from './install.js';
import type { MirrorSource } from './sources.js';
import { openStore, readState, type BundleStore } from './store.js';
import { authoritiesFor, currentRoot, readLocalKey, readTrustedKeys } from './trust-store.js';
import { peekManifest } from './manifest.js';
import type { Authority } from './trust.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, from daemon/src/bundles or daemon/dist/bundles. */
export const REPO_ROOT = resolve(here, '..', '..', '..');

export const MAX_INDEX_BYTES = 4 * 1024 * 1024;
export const MAX_SIG_BYTES = 256 * 1024;
export const MAX_MANIFEST_BYTES = 2 * 1024 * 1024;

export interface BundleServiceOptions {
  stateDir: string;
  /** Folder with the shipped root.json (+ `<N>.root.json` history). Default: the repository's bundles/keys. */
  trustedRootDir?: string;
  /** Mirror-shaped local build output. Default: the repository's bundles/out. */
  localOutputDir?: string;
  /** Public half of the checkout's local build key. Default: bundles/.cache/keys/local-build.pub.json. */
  localKeyFile?: string;
  channel?: string;
  /** A mirror tried after the local output when a bundle is not installed (the future public mirror). */
  defaultMirror?: string | null;
  /**
   * The folder of the installed npm package holding a bundle (`@shadowbox/bundle-<name>`), or null.
   * Default: Node's module resolution from the shadowbox package (its node_modules, then the parents',
   * so a sibling global install is found). A package is a mirror like any other: trust comes only from
   * the signatures, never from npm.
   */
  bundlePackageDir?: (name: string) => string | null;
  /** Progress of installs that load() starts on first use (the daemon logs it). */
  onProgress?: (p: InstallProgress) => void;
  audit?: AuditSink;
  /** Workspace the audit entries are filed under (bundle events are daemon-wide). Default: stateDir. */
  auditWorkspace?: string;
  clock?: () => Date;
  fetch?: typeof fetch;
  maxArchiveBytes?: number;
  logger?: { warn(msg: string, data?: Record<string, unknown>): void };
}

/** Shared state and helpers of one bundle service: paths, store, trust lookups, index state. */
export interface ServiceContext {
  opts: BundleServiceOptions;
  store: BundleStore;
  bundlePackageDir: (name: string) => string | null;
  trustedRootDir: string;
  localOutputDir: string;
  localKeyFile: string;
  channel: string;
  clock: () => Date;
  maxArchive: number;
  audit(type: string, data: Record<string, unknown>): Promise<void>;
  /** Authorities for a source, moving the root forward (repository, then the mirror's keys/). */
  authorities(source: { isLocalOutput: boolean }, now: Date, mirror?: MirrorSource): Promise<Authority[]>;
  /** The same, memoized on the trust files' stats (the per-load path). */
  loadAuthorities(isLocalOutput: boolean, now: Date): Promise<Authority[]>;
  fetchIndex(source: MirrorSource, auths: Authority[], now: Date): Promise<VerifiedIndex>;
  commitIndexState(v: VerifiedIndex): Promise<void>;
  otherVersionHashes(source: MirrorSource, v: VerifiedIndex, name: string, version: string): () => Promise<Set<string>>;
}

/** JSON.parse that yields null for missing or malformed input. */
export function parseJsonOrNull(bytes: Buffer | string | null): unknown {
  if (bytes === null) return null;
  try {
    return JSON.parse(bytes.toString()) as unknown;
  } catch {
    return null;
  }
}

/** The installed `@shadowbox/bundle-<name>` package folder, found the way Node finds a dependency of shadowbox. */
export function findBundlePackage(name: string, from = REPO_ROOT): string | null {
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(name)) return null;
  try {
    return dirname(createRequire(join(from, 'package.json')).resolve(`@shadowbox/bundle-${name}/package.json`));
  } catch {
    return null;
  }
}

/** Resolves defaults and builds the helpers every service operation shares. */
export function createContext(opts: BundleServiceOptions): ServiceContext {
  const trustedRootDir = opts.trustedRootDir ?? join(REPO_ROOT, 'bundles', 'keys');
  const localOutputDir = resolve(opts.localOutputDir ?? join(REPO_ROOT, 'bundles', 'out'));
  const localKeyFile = opts.localKeyFile ?? join(REPO_ROOT, 'bundles', '.cache', 'keys', 'local-build.pub.json');
  const channel = opts.channel ?? 'stable';
  const clock = opts.clock ?? (() => new Date());
  const store: BundleStore = openStore(opts.stateDir);
  const statePath = join(store.root, 'index-state.json');
  const maxArchive = opts.maxArchiveBytes ?? 256 * 1024 * 1024;
  const auditWs = opts.auditWorkspace ?? opts.stateDir;

  async function audit(type: string, data: Record<string, unknown>): Promise<void> {
    await opts.audit?.append({ type, workspace: auditWs, data });
  }

  async function authorities(
    source: { isLocalOutput: boolean },
    now: Date,
    mirror?: MirrorSource,
  ): Promise<Authority[]> {
    const root = await currentRoot(store.root, trustedRootDir, now, mirror);
    return authoritiesFor(root, await readTrustedKeys(store.root), await readLocalKey(localKeyFile), source);
  }

  // load() runs before every tool call: reuse the authorities while none of the trust files changed.
  const authMemo = new Map<boolean, { key: string; auths: Authority[]; expires: number }>();
  async function statKey(paths: string[]): Promise<string> {
    const parts = await Promise.all(
      paths.map((p) =>
        stat(p, { bigint: true }).then(
          (s) => `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`,
          () => '-',
        ),
      ),
    );
    return parts.join('|');
  }
  async function loadAuthorities(isLocalOutput: boolean, now: Date): Promise<Authority[]> {
    const cur = authMemo.get(isLocalOutput);
    const nextRoot = join(trustedRootDir, `${(cur?.auths[0]?.rootVersion ?? 0) + 1}.root.json`);
    const key = await statKey([
      join(store.root, 'trusted-root.json'),
      join(store.root, 'trusted-keys.json'),
      localKeyFile,
      join(trustedRootDir, 'root.json'),
      nextRoot,
    ]);
    if (cur && cur.key === key && now.getTime() < cur.expires) return cur.auths;
    const root = await currentRoot(store.root, trustedRootDir, now);
    const auths = authoritiesFor(root, await readTrustedKeys(store.root), await readLocalKey(localKeyFile), {
      isLocalOutput,
    });
    const after = await statKey([
      join(store.root, 'trusted-root.json'),
      join(store.root, 'trusted-keys.json'),
      localKeyFile,
      join(trustedRootDir, 'root.json'),
      join(trustedRootDir, `${root.signed.version + 1}.root.json`),
    ]);
    authMemo.set(isLocalOutput, { key: after, auths, expires: Date.parse(root.signed.expires) });
    return auths;
  }

  async function fetchIndex(source: MirrorSource, auths: Authority[], now: Date): Promise<VerifiedIndex> {
    const bytes = await source.get(`${channel}/index.json`, MAX_INDEX_BYTES);
    if (!bytes)
      throw new ShadowboxError(ErrorCodes.BundleNotFound, 'no_index', `${source.label} has no ${channel}/index.json`);
    const state = await readState(statePath, IndexStateSchema(), {});
    return verifyIndex(parseIndex(JSON.parse(bytes.toString('utf8')) as unknown), auths, state, now, channel);
  }

  // Persist the index high-water mark only after everything else passed (two TUF clients had CVEs for not doing so).
  async function commitIndexState(v: VerifiedIndex): Promise<void> {
    const state = await readState(statePath, IndexStateSchema(), {});
    const seen = state[v.stateKey];
    if (seen && seen.keys === v.nextState.keys && seen.version >= v.nextState.version) return;
    state[v.stateKey] = v.nextState;
    await writeFileAtomic(statePath, `${JSON.stringify(state, null, 2)}\n`, { mkdirMode: 0o700 });
  }

  function otherVersionHashes(
    source: MirrorSource,
    v: VerifiedIndex,
    name: string,
    version: string,
  ): () => Promise<Set<string>> {
    return async () => {
      const out = new Set<string>();
      for (const other of Object.keys(v.index.bundles[name] ?? {})) {
        if (other === version) continue;
        const bytes = await source.get(`${name}/${other}/manifest.json`, MAX_MANIFEST_BYTES).catch(() => null);
        // Only used to name the failure (the file already mismatched): an unreadable manifest just adds nothing.
        for (const f of peekManifest(parseJsonOrNull(bytes)).files ?? []) if (f.sha256) out.add(f.sha256);
      }
      return out;
    };
  }

  return {
    opts,
    store,
    bundlePackageDir: opts.bundlePackageDir ?? ((name) => findBundlePackage(name)),
    trustedRootDir,
    localOutputDir,
    localKeyFile,
    channel,
    clock,
    maxArchive,
    audit,
    authorities,
    loadAuthorities,
    fetchIndex,
    commitIndexState,
    otherVersionHashes,
  };
}
