import semver from 'semver';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import { indexEntry } from './channel-index.js';
import { MAX_MANIFEST_BYTES, MAX_SIG_BYTES, type ServiceContext } from './context.js';
import type { Manifest } from './manifest.js';
import type { MirrorSource } from './sources.js';
import { refuse, type Authority } from './trust.js';
import {
  contentFromArchive,
  parseSigFile,
  verifyBundleContent,
  verifyManifest,
  type VerifiedBundle,
  type VerifyBundleOptions,
} from './verify.js';

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

/** The summary of a manifest. */
export function summary(
  m: Pick<Manifest, 'name' | 'version' | 'description' | 'tools'>,
  manifestSha256: string,
  installed: boolean,
  source: string,
): BundleSummary {
  return {
    name: m.name,
    version: m.version,
    description: m.description,
    manifestSha256,
    tools: m.tools.map((t) => t.name),
    installed,
    source,
  };
}

/** Highest semver in a list, or undefined. */
export function newest(versions: string[]): string | undefined {
  return [...versions].filter((v) => semver.valid(v) === v).sort(semver.rcompare)[0];
}

/** One step of an install, for a progress display: `done`/`total` in bytes while reading and hashing. */
export interface InstallProgress {
  name: string;
  version: string;
  source: string;
  phase: 'download' | 'verify' | 'store' | 'done';
  done: number;
  total: number;
}

/** Receives install progress (never throws into the install). */
export type ProgressSink = (p: InstallProgress) => void;

/** Installs from a source: root, index, archive, every check, then store, installed.json, index state, audit. */
export type Installer = (
  source: MirrorSource,
  name: string,
  version: string | undefined,
  onProgress?: ProgressSink,
) => Promise<BundleSummary>;

/**
 * The files an install may write as its archive streams in: those the mirror's `manifest.json` beside the archive
 * lists, with their sizes, once that manifest passes the checks the archive's own will (signatures, name and version,
 * the index's binding). Empty when it is missing or fails them: the archive's own manifest decides the refusal then.
 */
async function planOf(
  source: MirrorSource,
  base: string,
  sig: Buffer,
  authority: Authority,
  opts: Pick<VerifyBundleOptions, 'expected' | 'indexEntry'>,
): Promise<Map<string, number>> {
  try {
    const bytes = await source.get(`${base}/manifest.json`, MAX_MANIFEST_BYTES);
    if (!bytes) return new Map();
    const { manifest } = verifyManifest(
      JSON.parse(bytes.toString('utf8')) as unknown,
      parseSigFile(sig),
      authority,
      opts,
    );
    return new Map(manifest.files.map((f) => [f.path, f.size]));
  } catch {
    return new Map();
  }
}

/** An installer that runs one install at a time (they share index state and installed.json) and audits refusals. */
export function createInstaller(ctx: ServiceContext): Installer {
  const { store, channel, maxArchive } = ctx;
  async function installFrom(
    source: MirrorSource,
    name: string,
    wanted: string | undefined,
    onProgress: ProgressSink | undefined,
  ): Promise<BundleSummary> {
    // Names and versions become mirror paths: only the manifest's own formats are allowed.
    if (!/^[a-z][a-z0-9-]{0,62}$/.test(name))
      throw new ShadowboxError(
        ErrorCodes.InvalidParams,
        'bundle_name_invalid',
        `not a bundle name: ${JSON.stringify(name)}`,
      );
    if (wanted !== undefined && semver.valid(wanted) !== wanted)
      throw new ShadowboxError(
        ErrorCodes.InvalidParams,
        'bundle_version_invalid',
        `not a semver version: ${JSON.stringify(wanted)}`,
      );
    const now = ctx.clock();
    const auths = await ctx.authorities(source, now, source);
    const vi = await ctx.fetchIndex(source, auths, now);
    const versions = Object.keys(vi.index.bundles[name] ?? {});
    const version = wanted ?? newest(versions);
    if (!version)
      throw new ShadowboxError(
        ErrorCodes.BundleNotFound,
        'not_in_index',
        `no bundle ${name} in ${source.label} (${channel})`,
        { name },
      );
    const entry = indexEntry(vi.index, name, version);
    if (entry.archiveSize > maxArchive)
      throw refuse('too_large', `${name}@${version} is ${entry.archiveSize} bytes; cap ${maxArchive}`);
    const total = entry.archiveSize;
    const report = (phase: InstallProgress['phase'], done: number) => {
      try {
        onProgress?.({ name, version, source: source.label, phase, done, total });
      } catch {
        // A broken display never stops an install.
      }
    };
    report('download', 0);
    const base = `${name}/${version}`;
    const missing = () =>
      new ShadowboxError(
        ErrorCodes.BundleNotFound,
        'artifact_missing',
        `${source.label} lacks ${base}/bundle.tar or its signature`,
      );
    const sig = await source.get(`${base}/manifest.sig.json`, MAX_SIG_BYTES);
    if (!sig) throw missing();
    // The archive streams in: each file is hashed as it passes and written to a staging folder of the store, which
    // becomes the entry only once everything below checks out. Written are only the files that the mirror's
    // manifest.json (beside the archive) lists with their size, once that manifest has passed the checks the
    // archive's own must pass: a name no trusted key signed never reaches the disk. Without such a manifest nothing
    // is written while the archive is read, and a second read writes what the verified archive holds.
    const plan = await planOf(source, base, sig, vi.authority, { expected: { name, version }, indexEntry: entry });
    let vb: VerifiedBundle;
    let size: number;
    const staged = await store.stage();
    const createFile = (path: string) => staged.createFile(path);
    try {
      const archive = await source.stream(`${base}/bundle.tar`, entry.archiveSize);
      if (!archive) throw missing();
      const content = await contentFromArchive(archive, sig, { plan, createFile });
      size = content.archive.size;
      report('verify', size);
      vb = await verifyBundleContent(content, vi.authority, {
        expected: { name, version },
        indexEntry: entry,
        otherVersionHashes: ctx.otherVersionHashes(source, vi, name, version),
      });
      // Every file and the manifest check out; the archive bytes must still be the listed ones.
      if (content.archive.sha256 !== entry.archiveSha256)
        throw refuse('file_mismatch', `${name}@${version} archive differs from the index`, { archive: true });
      const unwritten = vb.manifest.files.filter((f) => !content.written.has(f.path));
      if (unwritten.length > 0) {
        const again = await source.stream(`${base}/bundle.tar`, entry.archiveSize);
        if (!again) throw missing();
        const plan2 = new Map(unwritten.map((f) => [f.path, f.size]));
        const second = await contentFromArchive(again, sig, { plan: plan2, createFile });
        if (second.archive.sha256 !== entry.archiveSha256)
          throw refuse('file_mismatch', `${name}@${version} archive changed while it was read`, { archive: true });
      }
      report('store', size);
      await staged.commit(vb.manifestSha256, content.manifestValue, content.signatures, content.files);
    } finally {
      await staged.discard().catch((e: unknown) => {
        ctx.opts.logger?.warn(`bundles: cannot remove a staging folder (${(e as Error).message})`);
      });
    }
    await store.recordInstalled(name, version, {
      manifestSha256: vb.manifestSha256,
      source: source.label,
      authority: vb.authority.id,
      keyIds: vb.keyIds,
      installedAt: now.toISOString(),
    });
    await ctx.commitIndexState(vi);
    await ctx.audit('bundle.install', {
      name,
      version,
      manifestSha256: vb.manifestSha256,
      source: source.label,
      authority: vb.authority.id,
      keyIds: vb.keyIds,
      indexVersion: vi.index.version,
    });
    report('done', size);
    return summary(vb.manifest, vb.manifestSha256, true, source.label);
  }

  let installChain: Promise<unknown> = Promise.resolve();
  return function installAudited(
    source: MirrorSource,
    name: string,
    version: string | undefined,
    onProgress?: ProgressSink,
  ): Promise<BundleSummary> {
    const next = installChain.then(async () => {
      try {
        return await installFrom(source, name, version, onProgress);
      } catch (e) {
        if (isShadowboxError(e))
          await ctx
            .audit('bundle.refused', {
              name,
              version: version ?? null,
              source: source.label,
              code: e.code,
              reason: e.reason,
            })
            .catch(() => undefined);
        throw e;
      }
    });
    installChain = next.catch(() => undefined);
    return next;
  };
}

const MIB = 1024 * 1024;

/** One line for a progress display: "python@3.11.2 from package:/…: verifying 17.3 MiB". */
export function describeProgress(p: InstallProgress): string {
  const size = `${(p.total / MIB).toFixed(1)} MiB`;
  const what = `${p.name}@${p.version} from ${p.source}`;
  switch (p.phase) {
    case 'download':
      return `${what}: reading ${size}`;
    case 'verify':
      return `${what}: verifying signatures and every file's hash (${size})`;
    case 'store':
      return `${what}: verified, storing`;
    default:
      return `${what}: installed (verified)`;
  }
}

/** A percentage for a progress bar: reading is the first half, verifying and storing the second. */
export function progressPercent(p: InstallProgress): number {
  return { download: 0, verify: 50, store: 90, done: 100 }[p.phase];
}
