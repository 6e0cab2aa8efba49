import { open, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import semver from 'semver';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import { fileChunks } from '../state/index.js';
import { indexEntry } from './channel-index.js';
import { MAX_MANIFEST_BYTES, parseJsonOrNull, type ServiceContext } from './context.js';
import { canonicalBytes } from './crypto.js';
import type { BundleSummary } from './install.js';
import { peekManifest } from './manifest.js';
import { dirSource } from './sources.js';
import { checkThreshold, mostSpecific, refuse, type Authority } from './trust.js';
import {
  contentFromArchive,
  contentFromDir,
  verifyBundleContent,
  type BundleContent,
  type VerifiedBundle,
} from './verify.js';

/** What `bundles/verify` reports for a path that passed. */
export interface VerifyPathResult {
  ok: true;
  name: string;
  version: string;
  manifestSha256: string;
  keyIds: string[];
  authority: string;
  indexed: boolean;
}

/** The detached signatures next to an archive; their absence is a refusal, not an internal error. */
async function readSignatures(versionDir: string): Promise<Buffer> {
  return readFile(join(versionDir, 'manifest.sig.json')).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT')
      throw refuse(
        'signature_missing',
        `no manifest.sig.json next to the archive in ${versionDir}: an unsigned bundle is refused`,
      );
    throw e;
  });
}

/** An archive file's bytes as they are read (never the whole archive in memory). */
async function* archiveChunks(path: string): AsyncGenerator<Buffer, void, undefined> {
  const fh = await open(path, 'r');
  try {
    yield* fileChunks(fh);
  } finally {
    await fh.close();
  }
}

/**
 * Verifies a `bundle.tar`, a version folder holding one, or an unpacked folder (a store entry);
 * inside a mirror-shaped tree also against its index.
 */
export async function verifyPath(ctx: ServiceContext, path: string): Promise<VerifyPathResult> {
  const { store, channel, localOutputDir } = ctx;
  const now = ctx.clock();
  const abs = resolve(path);
  const st = await stat(abs).catch(() => null);
  if (!st) throw new ShadowboxError(ErrorCodes.BundleNotFound, 'path_missing', `no bundle at ${abs}`, { path: abs });
  let versionDir: string;
  let content: BundleContent;
  if (st.isFile()) {
    versionDir = dirname(abs);
    content = await contentFromArchive(archiveChunks(abs), await readSignatures(versionDir));
  } else if ((await stat(join(abs, 'bundle.tar')).catch(() => null))?.isFile()) {
    versionDir = abs;
    content = await contentFromArchive(archiveChunks(join(abs, 'bundle.tar')), await readSignatures(abs));
  } else {
    versionDir = abs;
    content = await contentFromDir(abs);
  }
  // A mirror-shaped tree: <root>/<name>/<version>/ with <root>/<channel>/index.json.
  const mirrorRoot = dirname(dirname(versionDir));
  // A store entry keeps the trust of where it was installed from.
  const fromLocalStore =
    dirname(versionDir) === join(store.root, 'store') &&
    Object.values((await store.readInstalled()).bundles).some((vs) =>
      Object.values(vs).some((r) => r.manifestSha256 === basename(versionDir) && r.source === 'local'),
    );
  const source = dirSource(mirrorRoot, mirrorRoot === localOutputDir || fromLocalStore);
  const auths = await ctx.authorities(source, now);
  const hasIndex = (await stat(join(mirrorRoot, channel, 'index.json')).catch(() => null)) !== null;
  let vb: VerifiedBundle;
  if (hasIndex) {
    const vi = await ctx.fetchIndex(source, auths, now);
    const raw = content.manifestValue as { name?: unknown; version?: unknown };
    const name = typeof raw?.name === 'string' ? raw.name : basename(dirname(versionDir));
    const version = typeof raw?.version === 'string' ? raw.version : basename(versionDir);
    const entry = indexEntry(vi.index, name, version);
    vb = await verifyBundleContent(content, vi.authority, {
      expected: { name: basename(dirname(versionDir)), version: basename(versionDir) },
      indexEntry: entry,
      otherVersionHashes: ctx.otherVersionHashes(source, vi, name, version),
    });
  } else {
    vb = await verifyFirstAuthority(content, auths);
    const dirName = basename(versionDir);
    if (/^[0-9a-f]{64}$/.test(dirName) && dirName !== vb.manifestSha256)
      throw refuse('manifest_tampered', `store entry ${dirName.slice(0, 12)} holds a different manifest`);
  }
  await ctx.audit('bundle.verify', {
    path: abs,
    name: vb.manifest.name,
    version: vb.manifest.version,
    manifestSha256: vb.manifestSha256,
    authority: vb.authority.id,
    indexed: hasIndex,
  });
  return {
    ok: true,
    name: vb.manifest.name,
    version: vb.manifest.version,
    manifestSha256: vb.manifestSha256,
    keyIds: vb.keyIds,
    authority: vb.authority.id,
    indexed: hasIndex,
  };
}

/** Installed bundles plus those the local build output offers but this state dir has not installed. */
export async function list(ctx: ServiceContext): Promise<BundleSummary[]> {
  const { store, localOutputDir } = ctx;
  const out: BundleSummary[] = [];
  const installed = (await store.readInstalled()).bundles;
  for (const [name, versions] of Object.entries(installed)) {
    for (const [version, rec] of Object.entries(versions)) {
      const m = peekManifest(
        parseJsonOrNull(
          await readFile(join(store.entryDir(rec.manifestSha256), 'manifest.json'), 'utf8').catch(() => null),
        ),
      );
      out.push({
        name,
        version,
        description: m.description ?? '',
        manifestSha256: rec.manifestSha256,
        tools: m.tools?.map((t) => t.name) ?? [],
        installed: true,
        source: rec.source,
      });
    }
  }
  const now = ctx.clock();
  const local = dirSource(localOutputDir, true);
  const vi = await ctx
    .authorities(local, now)
    .then((a) => ctx.fetchIndex(local, a, now))
    .catch(() => null);
  for (const [name, versions] of Object.entries(vi?.index.bundles ?? {})) {
    for (const [version, e] of Object.entries(versions)) {
      if (installed[name]?.[version]?.manifestSha256 === e.manifestSha256) continue;
      const m = peekManifest(
        parseJsonOrNull(await local.get(`${name}/${version}/manifest.json`, MAX_MANIFEST_BYTES).catch(() => null)),
      );
      out.push({
        name,
        version,
        description: m.description ?? '',
        manifestSha256: e.manifestSha256,
        tools: m.tools?.map((t) => t.name) ?? [],
        installed: false,
        source: 'local',
      });
    }
  }
  // By code unit, not localeCompare: the first localeCompare in a process builds ICU's collator (5–30 ms here),
  // and this list is made before the daemon serves. Names are ASCII, so the order does not depend on a locale.
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : semver.compare(a.version, b.version)));
}

async function verifyFirstAuthority(content: BundleContent, auths: Authority[]): Promise<VerifiedBundle> {
  const bytes = canonicalBytes(content.manifestValue);
  const errors: ShadowboxError[] = [];
  for (const a of auths) {
    try {
      checkThreshold('bundle manifest', a.bundles, a.revoked, bytes, content.signatures);
    } catch (e) {
      if (!isShadowboxError(e)) throw e;
      errors.push(e);
      continue;
    }
    return verifyBundleContent(content, a);
  }
  throw mostSpecific(errors) ?? refuse('unknown_key', 'no trusted key signed this bundle');
}
