import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { writeFileAtomic } from '../state/index.js';
import {
  canonicalBytes,
  PrivateKeyFileSchema,
  sha256Hex,
  signBytes,
  type PrivateKeyFile,
  type Signature,
} from './crypto.js';
import { IndexEnvelopeSchema, type IndexEntry, type IndexEnvelope, type IndexSigned } from './channel-index.js';
import { parseManifest, type Manifest } from './manifest.js';
import { writeTar, type TarEntry } from './tar.js';
import type { RootEnvelope, RootSigned } from './trust.js';
import { parseSigFile } from './verify.js';

/** A published file (archive, manifest, index): the daemon's durable atomic write, world-readable for a static mirror. */
async function writePublished(path: string, data: string | Uint8Array): Promise<void> {
  await writeFileAtomic(path, data, { mode: 0o644, mkdirMode: 0o755 });
}

/**
 * Writes a published file unless it holds these bytes already: a rebuild from cache leaves the output
 * folder (and its mtimes, which mirrors and rsync look at) as it was. Returns whether it wrote.
 */
export async function writeIfChanged(path: string, data: string | Uint8Array): Promise<boolean> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data);
  const old = await readFile(path).catch(() => null);
  if (old?.equals(bytes)) return false;
  await writePublished(path, bytes);
  return true;
}

/** Signs any JSON value's canonical bytes with each key (deduplicated by key id). */
export function signValue(value: unknown, keys: PrivateKeyFile[]): Signature[] {
  const bytes = canonicalBytes(value);
  const out = new Map<string, Signature>();
  for (const k of keys) {
    const s = signBytes(k, bytes);
    out.set(s.keyid, s);
  }
  return [...out.values()].sort((a, b) => a.keyid.localeCompare(b.keyid));
}

/** A root envelope signed by the given root keys (for rotation: old AND new root keys). */
export function signRoot(signed: RootSigned, keys: PrivateKeyFile[]): RootEnvelope {
  return { signed, signatures: signValue(signed, keys) };
}

/** Reads every private key file in a directory (`*.json` with a `role` of root, index, bundles or local). */
export async function loadKeyDir(dir: string): Promise<PrivateKeyFile[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.json')).sort();
  const keys: PrivateKeyFile[] = [];
  for (const n of names) {
    const r = PrivateKeyFileSchema().safeParse(JSON.parse(await readFile(join(dir, n), 'utf8')) as unknown);
    if (r.success) keys.push(r.data);
  }
  return keys;
}

/** The archive of a bundle: manifest.json plus files/<path>, deterministic. */
export function bundleArchive(manifest: Manifest, files: Map<string, Buffer>): Buffer {
  const entries: TarEntry[] = [{ path: 'manifest.json', bytes: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) }];
  for (const f of manifest.files) {
    const b = files.get(f.path);
    if (!b) throw new ShadowboxError(ErrorCodes.BundleInvalid, 'file_missing', `payload file ${f.path} is missing`);
    entries.push({ path: `files/${f.path}`, bytes: b });
  }
  return writeTar(entries, manifest.provenance.sourceDateEpoch);
}

/** Result of writing one bundle version into a mirror-shaped output folder. */
export interface PublishedBundle {
  dir: string;
  entry: IndexEntry;
  keyIds: string[];
}

/**
 * Writes `<out>/<name>/<version>/{bundle.tar, manifest.json, manifest.sig.json}`. The archive does
 * not contain the signatures, so it is byte-identical whoever signs it.
 */
export async function publishBundle(
  outDir: string,
  manifestValue: unknown,
  files: Map<string, Buffer>,
  keys: PrivateKeyFile[],
): Promise<PublishedBundle> {
  const manifest = parseManifest(manifestValue);
  // Sign exactly what a reader will parse back from manifest.json (defaults filled, no undefined fields).
  const signedValue = JSON.parse(JSON.stringify(manifest)) as unknown;
  const archive = bundleArchive(manifest, files);
  const signatures = signValue(signedValue, keys);
  const manifestSha256 = sha256Hex(canonicalBytes(signedValue));
  const dir = join(outDir, manifest.name, manifest.version);
  // Ed25519 signatures are deterministic: an unchanged bundle gives the same bytes, and nothing is rewritten.
  await writeIfChanged(join(dir, 'bundle.tar'), archive);
  await writeIfChanged(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeIfChanged(join(dir, 'manifest.sig.json'), `${JSON.stringify({ manifestSha256, signatures }, null, 2)}\n`);
  return {
    dir,
    entry: { manifestSha256, archiveSha256: sha256Hex(archive), archiveSize: archive.length },
    keyIds: signatures.map((s) => s.keyid),
  };
}

/** Adds signatures by more keys to a published bundle's manifest.sig.json (multi-signature thresholds). */
export async function addBundleSignatures(versionDir: string, keys: PrivateKeyFile[]): Promise<string[]> {
  const manifestValue = JSON.parse(await readFile(join(versionDir, 'manifest.json'), 'utf8')) as unknown;
  const existing = parseSigFile(await readFile(join(versionDir, 'manifest.sig.json')));
  const merged = new Map(existing.map((s) => [s.keyid, s]));
  for (const s of signValue(manifestValue, keys)) merged.set(s.keyid, s);
  const signatures = [...merged.values()].sort((a, b) => a.keyid.localeCompare(b.keyid));
  await writePublished(
    join(versionDir, 'manifest.sig.json'),
    `${JSON.stringify({ manifestSha256: sha256Hex(canonicalBytes(manifestValue)), signatures }, null, 2)}\n`,
  );
  return signatures.map((s) => s.keyid);
}

/** Reads an output folder's index without trusting it (the publisher's own file). */
export async function readOwnIndex(outDir: string, channel: string): Promise<IndexEnvelope | null> {
  const raw = await readFile(join(outDir, channel, 'index.json'), 'utf8').catch(() => null);
  if (raw === null) return null;
  const r = IndexEnvelopeSchema().safeParse(JSON.parse(raw) as unknown);
  return r.success ? r.data : null;
}

export interface UpdateIndexOptions {
  outDir: string;
  channel: string;
  keys: PrivateKeyFile[];
  now: Date;
  expiresInDays: number;
  /** Bundles to add or replace: name → version → entry. */
  add?: Record<string, Record<string, IndexEntry>>;
  /** Lowest version to use (e.g. a counter kept beside the signing key, survives a wiped output folder). */
  minVersion?: number;
}

/**
 * Re-signs `<out>/<channel>/index.json` with the added entries, a version strictly above the previous
 * one (and at least the current Unix time in seconds, so a wiped output folder still moves forward),
 * and a fresh expiry. Returns the signed index.
 */
export async function updateChannelIndex(o: UpdateIndexOptions): Promise<IndexEnvelope> {
  const prev = await readOwnIndex(o.outDir, o.channel);
  const bundles: IndexSigned['bundles'] = structuredClone(prev?.signed.bundles ?? {});
  for (const [name, versions] of Object.entries(o.add ?? {})) bundles[name] = { ...(bundles[name] ?? {}), ...versions };
  const version = Math.max((prev?.signed.version ?? 0) + 1, Math.floor(o.now.getTime() / 1000), o.minVersion ?? 0);
  const signed: IndexSigned = {
    type: 'index',
    channel: o.channel,
    version,
    expires: new Date(o.now.getTime() + o.expiresInDays * 86_400_000).toISOString(),
    bundles,
  };
  const env: IndexEnvelope = { signed, signatures: signValue(signed, o.keys) };
  await writePublished(join(o.outDir, o.channel, 'index.json'), `${JSON.stringify(env, null, 2)}\n`);
  return env;
}
