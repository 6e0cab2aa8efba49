import { constants } from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { lstat, open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { canonicalBytes, sha256Hex, SignatureSchema, type Signature } from './crypto.js';
import type { IndexEntry } from './channel-index.js';
import { MAX_MANIFEST_BYTES } from './context.js';
import { parseManifest, type Manifest } from './manifest.js';
import type { StagedFile } from './store.js';
import { TarReader } from './tar.js';
import { checkThreshold, refuse, type Authority } from './trust.js';
import { hashFileHandle, ONCE } from '../state/index.js';

/** manifest.sig.json: detached signatures over the manifest's canonical bytes. */
export const SigFileSchema = lazySchema(() =>
  z.object({ manifestSha256: z.string().optional(), signatures: z.array(SignatureSchema()) }).strict(),
);

/** A payload file as read: its size and SHA-256. */
export interface FileDigest {
  size: number;
  sha256: string;
}

/** A bundle read from a directory or an archive, not yet trusted: its manifest, signatures and files' digests. */
export interface BundleContent {
  manifestValue: unknown;
  signatures: Signature[];
  /** Payload files keyed by their manifest path (under `files/` on disk and in the archive). */
  files: Map<string, FileDigest>;
}

/** An archive's content, and the size and SHA-256 of the archive as read. */
export interface ArchiveContent extends BundleContent {
  archive: FileDigest;
}

/** A bundle that passed every check. */
export interface VerifiedBundle {
  manifest: Manifest;
  manifestSha256: string;
  keyIds: string[];
  authority: Authority;
}

export interface VerifyBundleOptions {
  /** The name@version the caller asked for (a different signed manifest is mix-and-match). */
  expected?: { name: string; version: string };
  /** The verified index entry for that name@version. */
  indexEntry?: IndexEntry;
  /** Hashes of files in other versions of this bundle: a mismatching file found there is mix-and-match. */
  otherVersionHashes?: () => Promise<Set<string>>;
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (e) {
    throw new ShadowboxError(ErrorCodes.BundleInvalid, 'json_invalid', `${what} is not JSON`, {}, { cause: e });
  }
}

/** Parses a detached signature file. */
export function parseSigFile(bytes: Buffer): Signature[] {
  const r = SigFileSchema().safeParse(parseJson(bytes, 'manifest.sig.json'), ONCE);
  if (!r.success)
    throw new ShadowboxError(ErrorCodes.BundleInvalid, 'signature_invalid', 'manifest.sig.json is invalid');
  return r.data.signatures;
}

/** SHA-256 of a manifest's RFC 8785 canonical bytes: its identity in the index and the store. */
export function manifestHashOf(manifestValue: unknown): string {
  return sha256Hex(canonicalBytes(manifestValue));
}

/** Where an archive's payload files are written as they stream in: only the ones a verified manifest lists. */
export interface ArchiveStaging {
  /** Path → size of the files to write: a file not listed, or of another size, is hashed and not written. */
  plan: ReadonlyMap<string, number>;
  createFile(path: string): Promise<StagedFile>;
}

/** An archive's content, the files it wrote, and the size and SHA-256 of the archive as read. */
export interface StreamedArchive extends ArchiveContent {
  /** The payload files written to the staging (the others were only hashed). */
  written: Set<string>;
}

/**
 * Reads an archive (manifest.json + files/...) as it streams in, plus its detached signatures: each payload file is
 * hashed as it passes (never the whole archive in memory) and, given `staging`, written there when its plan lists it
 * with that size (a store entry's temp folder, which becomes the entry only once the install has verified it): a
 * name no verified manifest lists never reaches the file system. A chunk is used before the next is asked for, so a
 * source may hand out views of one reused buffer.
 */
export async function contentFromArchive(
  chunks: AsyncIterable<Buffer>,
  sigBytes: Buffer,
  staging?: ArchiveStaging,
): Promise<StreamedArchive> {
  const whole = createHash('sha256');
  const reader = new TarReader();
  const files = new Map<string, FileDigest>();
  const written = new Set<string>();
  let archiveSize = 0;
  const manifest: Buffer[] = [];
  let manifestValue: unknown;
  let file: { hash: Hash; out: StagedFile | null } | null = null;
  try {
    for await (const chunk of chunks) {
      whole.update(chunk);
      archiveSize += chunk.length;
      for (const p of reader.write(chunk)) {
        if (p.path === 'manifest.json') {
          if (p.size > MAX_MANIFEST_BYTES)
            throw refuse('too_large', `manifest.json is ${p.size} bytes; cap ${MAX_MANIFEST_BYTES}`, { path: p.path });
          manifest.push(Buffer.from(p.bytes)); // a copy: the chunk's buffer is reused
          if (p.last) manifestValue = parseJson(Buffer.concat(manifest), 'manifest.json');
        } else if (p.path.startsWith('files/')) {
          const path = p.path.slice('files/'.length);
          if (p.first) {
            const write = staging !== undefined && staging.plan.get(path) === p.size;
            file = { hash: createHash('sha256'), out: write ? await staging.createFile(path) : null };
          }
          if (!file) throw new Error('unreachable: a file piece before its first');
          file.hash.update(p.bytes);
          await file.out?.write(p.bytes);
          if (p.last) {
            const done = file;
            file = null;
            if (done.out) {
              await done.out.close();
              written.add(path);
            }
            files.set(path, { size: p.size, sha256: done.hash.digest('hex') });
          }
        } else throw refuse('invalid_path', `unexpected archive entry ${p.path}`, { path: p.path });
      }
    }
    reader.end();
  } catch (e) {
    await file?.out?.close().catch(() => undefined);
    throw e;
  }
  if (manifestValue === undefined)
    throw new ShadowboxError(ErrorCodes.BundleInvalid, 'manifest_missing', 'archive has no manifest.json');
  return {
    manifestValue,
    signatures: parseSigFile(sigBytes),
    files,
    written,
    archive: { size: archiveSize, sha256: whole.digest('hex') },
  };
}

/** The size and SHA-256 of a file, streamed (no link followed at the last step). */
async function digestFile(path: string): Promise<FileDigest> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const h = createHash('sha256');
    const size = await hashFileHandle(h, fh);
    return { size, sha256: h.digest('hex') };
  } finally {
    await fh.close();
  }
}

async function walk(root: string, rel: string, out: Map<string, FileDigest>): Promise<void> {
  for (const name of (await readdir(join(root, rel))).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(root, r));
    if (st.isSymbolicLink()) throw refuse('invalid_path', `bundle file ${r} is a symlink`, { path: r });
    if (st.isDirectory()) await walk(root, r, out);
    else if (st.isFile()) out.set(r, await digestFile(join(root, r)));
    else throw refuse('invalid_path', `bundle file ${r} is not a regular file`, { path: r });
  }
}

/** Reads an unpacked bundle directory (manifest.json, manifest.sig.json, files/). */
export async function contentFromDir(dir: string): Promise<BundleContent> {
  const files = new Map<string, FileDigest>();
  const st = await lstat(join(dir, 'files')).catch(() => null);
  if (st?.isSymbolicLink()) throw refuse('invalid_path', 'files/ is a symlink', { path: 'files' });
  if (st?.isDirectory()) await walk(join(dir, 'files'), '', files);
  return {
    manifestValue: parseJson(await readFile(join(dir, 'manifest.json')), 'manifest.json'),
    signatures: parseSigFile(await readFile(join(dir, 'manifest.sig.json'))),
    files,
  };
}

/** A manifest that passed its checks (signatures, name and version, the index's binding), its files not yet read. */
export type VerifiedManifest = Omit<VerifiedBundle, 'authority'>;

/** Checks a manifest's signatures, that it is the one asked for and the one the index lists; throws a typed refusal. */
export function verifyManifest(
  manifestValue: unknown,
  signatures: Signature[],
  authority: Authority,
  opts: Pick<VerifyBundleOptions, 'expected' | 'indexEntry'> = {},
): VerifiedManifest {
  const bytes = canonicalBytes(manifestValue);
  const manifestSha256 = sha256Hex(bytes);
  const keyIds = checkThreshold(
    'bundle manifest',
    authority.bundles,
    authority.revoked,
    bytes,
    signatures,
    'manifest_tampered',
  );
  const manifest = parseManifest(manifestValue);
  const { expected, indexEntry } = opts;
  if (expected && (manifest.name !== expected.name || manifest.version !== expected.version)) {
    throw refuse(
      'mix_and_match',
      `asked for ${expected.name}@${expected.version}, got a manifest for ${manifest.name}@${manifest.version}`,
      { manifestSha256 },
    );
  }
  if (indexEntry && indexEntry.manifestSha256 !== manifestSha256) {
    throw refuse('mix_and_match', `manifest of ${manifest.name}@${manifest.version} is not the one the index lists`, {
      manifestSha256,
      listed: indexEntry.manifestSha256,
    });
  }
  return { manifest, manifestSha256, keyIds };
}

/** Checks signatures, index binding, and every file's bytes; throws a typed refusal on the first failure. */
export async function verifyBundleContent(
  content: BundleContent,
  authority: Authority,
  opts: VerifyBundleOptions = {},
): Promise<VerifiedBundle> {
  const { manifest, manifestSha256, keyIds } = verifyManifest(
    content.manifestValue,
    content.signatures,
    authority,
    opts,
  );
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const path of content.files.keys()) {
    if (!listed.has(path)) throw refuse('file_mismatch', `file ${path} is not in the manifest`, { path });
  }
  for (const f of manifest.files) {
    const d = content.files.get(f.path);
    if (!d) throw refuse('file_mismatch', `file ${f.path} is missing`, { path: f.path });
    const h = d.sha256;
    if (d.size === f.size && h === f.sha256) continue;
    if (opts.otherVersionHashes && (await opts.otherVersionHashes()).has(h)) {
      throw refuse('mix_and_match', `file ${f.path} belongs to another version of ${manifest.name}`, { path: f.path });
    }
    throw refuse('file_mismatch', `file ${f.path} does not match the manifest`, {
      path: f.path,
      expected: f.sha256,
      actual: h,
    });
  }
  return { manifest, manifestSha256, keyIds, authority };
}
