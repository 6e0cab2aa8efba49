import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import type { AuditSink } from '../audit/sink.js';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { canonicalBytes, sha256Hex } from './crypto.js';
import { indexEntry, parseIndex, verifyIndex, IndexStateSchema, type VerifiedIndex } from './channel-index.js';
import type { Manifest } from './manifest.js';
import { serveMirror, type MirrorHandler } from './mirror-server.js';
import { writeFileAtomic } from './publish.js';
import { dirSource, sourceFor, type MirrorSource } from './sources.js';
import { openStore, readState, type BundleStore } from './store.js';
import { addTrustedKey, authoritiesFor, currentRoot, readLocalKey, readTrustedKeys } from './trust-store.js';
import { checkThreshold, mostSpecific, refuse, type Authority } from './trust.js';
import { contentFromArchive, contentFromDir, verifyBundleContent, type BundleContent, type VerifiedBundle } from './verify.js';
import { loadBundle, type LoadedBundle } from './load.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, from daemon/src/bundles or daemon/dist/bundles. */
export const REPO_ROOT = resolve(here, '..', '..', '..');

const MAX_INDEX_BYTES = 4 * 1024 * 1024;
const MAX_SIG_BYTES = 256 * 1024;
const MAX_MANIFEST_BYTES = 2 * 1024 * 1024;

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
  audit?: AuditSink;
  /** Workspace the audit entries are filed under (bundle events are daemon-wide). Default: stateDir. */
  auditWorkspace?: string;
  clock?: () => Date;
  fetch?: typeof fetch;
  maxArchiveBytes?: number;
  logger?: { warn(msg: string, data?: Record<string, unknown>): void };
}

/** One installed or available bundle, as `bundles/list` shows it. */
export interface BundleSummary {
  name: string;
  version: string;
  description: string;
  manifestSha256: string;
  tools: string[];
  installed: boolean;
  source: string;
}

export interface VerifyPathResult {
  ok: true;
  name: string;
  version: string;
  manifestSha256: string;
  keyIds: string[];
  authority: string;
  indexed: boolean;
}

/** Verifies, installs, stores and loads signed bundles; serves a mirror folder. */
export interface BundleService {
  list(): Promise<BundleSummary[]>;
  verifyPath(path: string): Promise<VerifyPathResult>;
  install(p: { name: string; version?: string; mirror?: string }): Promise<BundleSummary>;
  load(name: string, version?: string): Promise<LoadedBundle>;
  trustKey(file: string): Promise<{ keyId: string }>;
  serveMirror(dir?: string): MirrorHandler;
}

function summary(m: Manifest, manifestSha256: string, installed: boolean, source: string): BundleSummary {
  return { name: m.name, version: m.version, description: m.description, manifestSha256, tools: m.tools.map((t) => t.name), installed, source };
}

/** Highest semver in a list, or undefined. */
export function newest(versions: string[]): string | undefined {
  return [...versions].filter((v) => semver.valid(v)).sort(semver.rcompare)[0];
}

/** Creates the bundle service over a state dir (store, trusted root, index state, trusted keys). */
export function createBundleService(opts: BundleServiceOptions): BundleService {
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

  async function authorities(source: { isLocalOutput: boolean }, now: Date, mirror?: MirrorSource): Promise<Authority[]> {
    const root = await currentRoot(store.root, trustedRootDir, now, mirror);
    return authoritiesFor(root, await readTrustedKeys(store.root), await readLocalKey(localKeyFile), source);
  }

  // load() runs before every tool call: reuse the authorities while none of the trust files changed.
  const authMemo = new Map<boolean, { key: string; auths: Authority[]; expires: number }>();
  async function statKey(paths: string[]): Promise<string> {
    const parts = await Promise.all(paths.map((p) => stat(p, { bigint: true }).then((s) => `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`, () => '-')));
    return parts.join('|');
  }
  async function loadAuthorities(isLocalOutput: boolean, now: Date): Promise<Authority[]> {
    const cur = authMemo.get(isLocalOutput);
    const nextRoot = join(trustedRootDir, `${(cur?.auths[0]?.rootVersion ?? 0) + 1}.root.json`);
    const key = await statKey([join(store.root, 'trusted-root.json'), join(store.root, 'trusted-keys.json'), localKeyFile, join(trustedRootDir, 'root.json'), nextRoot]);
    if (cur && cur.key === key && now.getTime() < cur.expires) return cur.auths;
    const root = await currentRoot(store.root, trustedRootDir, now);
    const auths = authoritiesFor(root, await readTrustedKeys(store.root), await readLocalKey(localKeyFile), { isLocalOutput });
    const after = await statKey([join(store.root, 'trusted-root.json'), join(store.root, 'trusted-keys.json'), localKeyFile, join(trustedRootDir, 'root.json'), join(trustedRootDir, `${root.signed.version + 1}.root.json`)]);
    authMemo.set(isLocalOutput, { key: after, auths, expires: Date.parse(root.signed.expires) });
    return auths;
  }

  async function fetchIndex(source: MirrorSource, auths: Authority[], now: Date): Promise<VerifiedIndex> {
    const bytes = await source.get(`${channel}/index.json`, MAX_INDEX_BYTES);
    if (!bytes) throw new ShadowboxError(ErrorCodes.BundleNotFound, 'no_index', `${source.label} has no ${channel}/index.json`);
    const state = await readState(statePath, IndexStateSchema, {});
    return verifyIndex(parseIndex(JSON.parse(bytes.toString('utf8')) as unknown), auths, state, now, channel);
  }

  // Persist the index high-water mark only after everything else passed (two TUF clients had CVEs for not doing so).
  async function commitIndexState(v: VerifiedIndex): Promise<void> {
    const state = await readState(statePath, IndexStateSchema, {});
    const seen = state[v.stateKey];
    if (seen && seen.keys === v.nextState.keys && seen.version >= v.nextState.version) return;
    state[v.stateKey] = v.nextState;
    await writeFileAtomic(statePath, `${JSON.stringify(state, null, 2)}\n`);
  }

  function otherVersionHashes(source: MirrorSource, v: VerifiedIndex, name: string, version: string): () => Promise<Set<string>> {
    return async () => {
      const out = new Set<string>();
      for (const other of Object.keys(v.index.bundles[name] ?? {})) {
        if (other === version) continue;
        const bytes = await source.get(`${name}/${other}/manifest.json`, MAX_MANIFEST_BYTES).catch(() => null);
        const files = bytes ? (JSON.parse(bytes.toString('utf8')) as { files?: Array<{ sha256?: unknown }> }).files : undefined;
        for (const f of files ?? []) if (typeof f.sha256 === 'string') out.add(f.sha256);
      }
      return out;
    };
  }

  async function installFrom(source: MirrorSource, name: string, wanted: string | undefined): Promise<BundleSummary> {
    // Names and versions become mirror paths: only the manifest's own formats are allowed.
    if (!/^[a-z][a-z0-9-]{0,62}$/.test(name)) throw new ShadowboxError(ErrorCodes.InvalidParams, 'bundle_name_invalid', `not a bundle name: ${JSON.stringify(name)}`);
    if (wanted !== undefined && semver.valid(wanted) !== wanted) throw new ShadowboxError(ErrorCodes.InvalidParams, 'bundle_version_invalid', `not a semver version: ${JSON.stringify(wanted)}`);
    const now = clock();
    const auths = await authorities(source, now, source);
    const vi = await fetchIndex(source, auths, now);
    const versions = Object.keys(vi.index.bundles[name] ?? {});
    const version = wanted ?? newest(versions.filter((v) => semver.valid(v) === v));
    if (!version) throw new ShadowboxError(ErrorCodes.BundleNotFound, 'not_in_index', `no bundle ${name} in ${source.label} (${channel})`, { name });
    const entry = indexEntry(vi.index, name, version);
    if (entry.archiveSize > maxArchive) throw refuse('too_large', `${name}@${version} is ${entry.archiveSize} bytes; cap ${maxArchive}`);
    const archive = await source.get(`${name}/${version}/bundle.tar`, entry.archiveSize);
    const sig = await source.get(`${name}/${version}/manifest.sig.json`, MAX_SIG_BYTES);
    if (!archive || !sig) throw new ShadowboxError(ErrorCodes.BundleNotFound, 'artifact_missing', `${source.label} lacks ${name}/${version}/bundle.tar or its signature`);
    const content = contentFromArchive(archive, sig);
    const vb = await verifyBundleContent(content, vi.authority, { expected: { name, version }, indexEntry: entry, otherVersionHashes: otherVersionHashes(source, vi, name, version) });
    // Every file and the manifest check out; the archive bytes must still be the listed ones.
    if (sha256Hex(archive) !== entry.archiveSha256) throw refuse('file_mismatch', `${name}@${version} archive differs from the index`, { archive: true });
    await store.put(vb.manifestSha256, content, vb.manifest);
    await store.recordInstalled(name, version, { manifestSha256: vb.manifestSha256, source: source.label, authority: vb.authority.id, keyIds: vb.keyIds, installedAt: now.toISOString() });
    await commitIndexState(vi);
    await audit('bundle.install', { name, version, manifestSha256: vb.manifestSha256, source: source.label, authority: vb.authority.id, keyIds: vb.keyIds, indexVersion: vi.index.version });
    return summary(vb.manifest, vb.manifestSha256, true, source.label);
  }

  // Installs run one at a time per service (they share the index state and installed.json), and refusals are audited.
  let installChain: Promise<unknown> = Promise.resolve();
  function installAudited(source: MirrorSource, name: string, version: string | undefined): Promise<BundleSummary> {
    const next = installChain.then(async () => {
      try {
        return await installFrom(source, name, version);
      } catch (e) {
        if (e instanceof ShadowboxError) await audit('bundle.refused', { name, version: version ?? null, source: source.label, code: e.code, reason: e.reason }).catch(() => undefined);
        throw e;
      }
    });
    installChain = next.catch(() => undefined);
    return next;
  }

  async function install(p: { name: string; version?: string; mirror?: string }): Promise<BundleSummary> {
    return installAudited(p.mirror ? sourceFor(p.mirror, localOutputDir, opts.fetch) : dirSource(localOutputDir, true), p.name, p.version);
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

  async function load(name: string, version?: string): Promise<LoadedBundle> {
    let installed = (await store.readInstalled()).bundles[name] ?? {};
    let v = version ?? newest(Object.keys(installed));
    if (!v || !installed[v]) {
      const sources = [dirSource(localOutputDir, true), ...(opts.defaultMirror ? [sourceFor(opts.defaultMirror, localOutputDir, opts.fetch)] : [])];
      let lastError: unknown = null;
      for (const s of sources) {
        try {
          v = (await installAudited(s, name, version)).version;
          lastError = null;
          break;
        } catch (e) {
          lastError = e;
        }
      }
      if (lastError) throw lastError;
      installed = (await store.readInstalled()).bundles[name] ?? {};
    } else if (installed[v].source === 'local' && (await localChanged(name, v, installed[v].manifestSha256))) {
      await installAudited(dirSource(localOutputDir, true), name, v);
      installed = (await store.readInstalled()).bundles[name] ?? {};
    }
    const rec = v ? installed[v] : undefined;
    if (!v || !rec) throw new ShadowboxError(ErrorCodes.BundleNotFound, 'not_installed', `bundle ${name}${version ? `@${version}` : ''} is not installed`, { name });
    const auths = await loadAuthorities(rec.source === 'local', clock());
    const authority = auths.find((a) => a.id === rec.authority);
    if (!authority) throw refuse('unknown_key', `the key that signed ${name}@${v} is no longer trusted`, { authority: rec.authority });
    return loadBundle(store, rec.manifestSha256, authority, { name, version: v });
  }

  async function verifyPath(path: string): Promise<VerifyPathResult> {
    const now = clock();
    const abs = resolve(path);
    const st = await stat(abs).catch(() => null);
    if (!st) throw new ShadowboxError(ErrorCodes.BundleNotFound, 'path_missing', `no bundle at ${abs}`, { path: abs });
    let versionDir: string;
    let content: BundleContent;
    if (st.isFile()) {
      versionDir = dirname(abs);
      content = contentFromArchive(await readFile(abs), await readFile(join(versionDir, 'manifest.sig.json')));
    } else if ((await stat(join(abs, 'bundle.tar')).catch(() => null))?.isFile()) {
      versionDir = abs;
      content = contentFromArchive(await readFile(join(abs, 'bundle.tar')), await readFile(join(abs, 'manifest.sig.json')));
    } else {
      versionDir = abs;
      content = await contentFromDir(abs);
    }
    // A mirror-shaped tree: <root>/<name>/<version>/ with <root>/<channel>/index.json.
    const mirrorRoot = dirname(dirname(versionDir));
    // A store entry keeps the trust of where it was installed from.
    const fromLocalStore = dirname(versionDir) === join(store.root, 'store') && Object.values((await store.readInstalled()).bundles).some((vs) => Object.values(vs).some((r) => r.manifestSha256 === basename(versionDir) && r.source === 'local'));
    const source = dirSource(mirrorRoot, mirrorRoot === localOutputDir || fromLocalStore);
    const auths = await authorities(source, now);
    const hasIndex = (await stat(join(mirrorRoot, channel, 'index.json')).catch(() => null)) !== null;
    let vb: VerifiedBundle;
    if (hasIndex) {
      const vi = await fetchIndex(source, auths, now);
      const raw = content.manifestValue as { name?: unknown; version?: unknown };
      const name = typeof raw?.name === 'string' ? raw.name : basename(dirname(versionDir));
      const version = typeof raw?.version === 'string' ? raw.version : basename(versionDir);
      const entry = indexEntry(vi.index, name, version);
      vb = await verifyBundleContent(content, vi.authority, { expected: { name: basename(dirname(versionDir)), version: basename(versionDir) }, indexEntry: entry, otherVersionHashes: otherVersionHashes(source, vi, name, version) });
    } else {
      vb = await verifyFirstAuthority(content, auths);
      const dirName = basename(versionDir);
      if (/^[0-9a-f]{64}$/.test(dirName) && dirName !== vb.manifestSha256) throw refuse('manifest_tampered', `store entry ${dirName.slice(0, 12)} holds a different manifest`);
    }
    await audit('bundle.verify', { path: abs, name: vb.manifest.name, version: vb.manifest.version, manifestSha256: vb.manifestSha256, authority: vb.authority.id, indexed: hasIndex });
    return { ok: true, name: vb.manifest.name, version: vb.manifest.version, manifestSha256: vb.manifestSha256, keyIds: vb.keyIds, authority: vb.authority.id, indexed: hasIndex };
  }

  async function list(): Promise<BundleSummary[]> {
    const out: BundleSummary[] = [];
    const installed = (await store.readInstalled()).bundles;
    for (const [name, versions] of Object.entries(installed)) {
      for (const [version, rec] of Object.entries(versions)) {
        const raw = await readFile(join(store.entryDir(rec.manifestSha256), 'manifest.json'), 'utf8').catch(() => null);
        const m = raw ? (JSON.parse(raw) as Manifest) : null;
        out.push({ name, version, description: m?.description ?? '', manifestSha256: rec.manifestSha256, tools: m?.tools?.map((t) => t.name) ?? [], installed: true, source: rec.source });
      }
    }
    const now = clock();
    const local = dirSource(localOutputDir, true);
    const vi = await authorities(local, now).then((a) => fetchIndex(local, a, now)).catch(() => null);
    for (const [name, versions] of Object.entries(vi?.index.bundles ?? {})) {
      for (const [version, e] of Object.entries(versions)) {
        if (installed[name]?.[version]?.manifestSha256 === e.manifestSha256) continue;
        const bytes = await local.get(`${name}/${version}/manifest.json`, MAX_MANIFEST_BYTES).catch(() => null);
        const m = bytes ? (JSON.parse(bytes.toString('utf8')) as Manifest) : null;
        out.push({ name, version, description: m?.description ?? '', manifestSha256: e.manifestSha256, tools: m?.tools?.map((t) => t.name) ?? [], installed: false, source: 'local' });
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || semver.compare(a.version, b.version));
  }

  async function trustKey(file: string): Promise<{ keyId: string }> {
    const { keyId, added } = await addTrustedKey(store.root, resolve(file), clock());
    opts.logger?.warn('TRUSTING A DEVELOPER KEY: bundles signed by it will be installed and run like official ones', { keyId, file });
    await audit('bundle.trust', { keyId, file: resolve(file), added });
    return { keyId };
  }

  return { list, verifyPath, install, load, trustKey, serveMirror: (dir) => serveMirror(dir ?? localOutputDir) };
}

async function verifyFirstAuthority(content: BundleContent, auths: Authority[]): Promise<VerifiedBundle> {
  const bytes = canonicalBytes(content.manifestValue);
  const errors: ShadowboxError[] = [];
  for (const a of auths) {
    try {
      checkThreshold('bundle manifest', a.bundles, a.revoked, bytes, content.signatures);
    } catch (e) {
      if (!(e instanceof ShadowboxError)) throw e;
      errors.push(e);
      continue;
    }
    return verifyBundleContent(content, a);
  }
  throw mostSpecific(errors) ?? refuse('unknown_key', 'no trusted key signed this bundle');
}
