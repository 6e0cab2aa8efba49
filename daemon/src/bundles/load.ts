import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { identityOf, type FileIdentity } from '../file-identity.js';
import { inLanes } from '../state/index.js';
import { canonicalBytes, sha256Hex } from './crypto.js';
import { parseManifest, type Manifest, type ManifestFile, type ManifestTool } from './manifest.js';
import type { BundleStore } from './store.js';
import { checkThreshold, refuse, type Authority } from './trust.js';
import { parseSigFile } from './verify.js';

/** A runnable module of a loaded bundle, with its verified bytes. */
export interface LoadedEntry {
  name: string;
  /** Host path of the module file inside the store. */
  path: string;
  bytes: Buffer;
  sha256: string;
}

/** What a WASI runner needs from a verified, installed bundle. */
export interface LoadedBundle {
  name: string;
  version: string;
  manifestSha256: string;
  /** The store entry folder; payload files live under `<dir>/files/`. */
  dir: string;
  filesDir: string;
  manifest: Manifest;
  /** The default (first) entry, bytes re-hashed on every load. */
  entry: LoadedEntry;
  /** Reads another entry by name (`command`), re-hashed. */
  readEntry(name: string): Promise<LoadedEntry>;
  files: ManifestFile[];
  limits: Manifest['limits'];
  capabilities: Manifest['capabilities'];
  tools: ManifestTool[];
}

/**
 * The manifest of an installed bundle, checked as on every load: it still hashes to its store address, carries
 * a valid signature from the authority that installed it (a revoked key fails here) and names the bundle and
 * version asked for. Its files are not read: what a bundle's tools are is decided by this alone; running one
 * loads the bundle (loadBundle), which checks every file first.
 */
export async function loadManifest(
  store: BundleStore,
  manifestSha256: string,
  authority: Authority,
  expected: { name: string; version: string },
): Promise<Manifest> {
  const dir = store.entryDir(manifestSha256);
  const raw = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as unknown;
  const bytes = canonicalBytes(raw);
  if (sha256Hex(bytes) !== manifestSha256)
    throw refuse('manifest_tampered', `store entry ${manifestSha256.slice(0, 12)}: manifest.json was changed on disk`, {
      manifestSha256,
    });
  checkThreshold(
    'stored manifest',
    authority.bundles,
    authority.revoked,
    bytes,
    parseSigFile(await readFile(join(dir, 'manifest.sig.json'))),
  );
  const manifest = parseManifest(raw);
  if (manifest.name !== expected.name || manifest.version !== expected.version) {
    throw refuse(
      'mix_and_match',
      `store entry ${manifestSha256.slice(0, 12)} holds ${manifest.name}@${manifest.version}, not ${expected.name}@${expected.version}`,
    );
  }
  return manifest;
}

/**
 * Every file of a checked manifest matches its size and hash (re-hashed only when its stat changed); entry bytes
 * are hashed as they are read, or, with `readEntries` false, only found a regular file of their size: whoever
 * reads them then checks their hash (see locateBundle). Returns each file's identity as checked (the stat its
 * hash stands for; an unread entry's lstat), so that a later open can refuse a file that is not that one.
 */
async function checkFiles(
  store: BundleStore,
  manifestSha256: string,
  manifest: Manifest,
  filesDir: string,
  readEntries: boolean,
): Promise<Map<string, FileIdentity>> {
  const entryPaths = new Set(manifest.entries.map((e) => e.path));
  const checked = new Map<string, FileIdentity>();
  const checkFile = async (f: ManifestFile): Promise<void> => {
    const p = join(filesDir, f.path);
    const st = await lstat(p, { bigint: true }).catch(() => null);
    if (!st?.isFile())
      throw refuse(
        st?.isSymbolicLink() ? 'invalid_path' : 'file_mismatch',
        `store entry ${manifestSha256.slice(0, 12)}: ${f.path} is missing or not a regular file`,
        { path: f.path },
      );
    const entry = entryPaths.has(f.path);
    const h =
      entry && !readEntries
        ? { size: Number(st.size), sha256: f.sha256, identity: identityOf(st) }
        : await store.hashFile(p, entry).catch((e: unknown) => {
            // Gone, or a link or another kind of file swapped in since the lstat: not the manifest's file.
            throw refuse(
              'file_mismatch',
              `store entry ${manifestSha256.slice(0, 12)}: ${f.path}: ${(e as Error).message}`,
              {
                path: f.path,
                manifestSha256,
              },
            );
          });
    if (h.size !== f.size || h.sha256 !== f.sha256)
      throw refuse('file_mismatch', `store entry ${manifestSha256.slice(0, 12)}: ${f.path} was changed on disk`, {
        path: f.path,
        manifestSha256,
      });
    checked.set(f.path, h.identity);
  };
  // Files checked a few at a time (the entry's read and hash overlaps the others' stats; one by one they were
  // ~14 turns of a main thread that is busy right after start), the first failure in manifest order reported.
  // Eight lanes bound what is read at once: an entry whose stat changed is read whole to be hashed (the others stream).
  const failures: (Error | undefined)[] = [];
  await inLanes(manifest.files, 8, async (f, i) => {
    failures[i] = await checkFile(f).then(
      () => undefined,
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    );
  });
  const failed = failures.find((e) => e !== undefined);
  if (failed !== undefined) throw failed;
  return checked;
}

/** A bundle's default entry, not read: its file and the hash and size its signed manifest gives it. */
export interface LocatedEntry {
  name: string;
  path: string;
  sha256: string;
  size: number;
}

/** A checked bundle whose default entry is left for its reader to read and check (a worker thread, for python). */
export interface LocatedBundle {
  name: string;
  version: string;
  manifestSha256: string;
  filesDir: string;
  manifest: Manifest;
  entry: LocatedEntry;
  /**
   * Each file the signed manifest lists (its path under `filesDir`) with its identity when it was checked. A
   * reader that opens one by path compares its `fstat` with this (sameIdentity), so it never serves a file
   * replaced or changed after the check; a file the manifest does not list is not here.
   */
  checked: ReadonlyMap<string, FileIdentity>;
}

/** A bundle's default entry as its stored manifest names it, nothing checked (BundleService.claimedEntry). */
export interface ClaimedEntry {
  filesDir: string;
  entry: LocatedEntry;
}

/**
 * What the manifest in store entry `manifestSha256` names as its default entry: the file parsed, nothing else
 * checked (not its address, its signature or any file). Never a reason to run anything: see BundleService.claimedEntry.
 */
export async function claimEntry(store: BundleStore, manifestSha256: string): Promise<ClaimedEntry | null> {
  const filesDir = join(store.entryDir(manifestSha256), 'files');
  const manifest = parseManifest(
    JSON.parse(await readFile(join(store.entryDir(manifestSha256), 'manifest.json'), 'utf8')) as unknown,
  );
  const e = manifest.entries[0];
  const f = manifest.files.find((x) => x.path === e.path);
  return f ? { filesDir, entry: { name: e.name, path: join(filesDir, e.path), sha256: f.sha256, size: f.size } } : null;
}

/**
 * The check of loadBundle without reading the default entry: its reader must hash what it reads and refuse
 * bytes whose SHA-256 or size differ from `entry` (the code executed is still always the signed code).
 */
export async function locateBundle(
  store: BundleStore,
  manifestSha256: string,
  authority: Authority,
  expected: { name: string; version: string },
): Promise<LocatedBundle> {
  const filesDir = join(store.entryDir(manifestSha256), 'files');
  const manifest = await loadManifest(store, manifestSha256, authority, expected);
  const checked = await checkFiles(store, manifestSha256, manifest, filesDir, false);
  const e = manifest.entries[0];
  const f = manifest.files.find((x) => x.path === e.path);
  if (!f)
    throw refuse('not_in_index', `bundle ${manifest.name}: entry ${e.path} is not one of its files`, { entry: e.name });
  return {
    name: manifest.name,
    version: manifest.version,
    manifestSha256,
    filesDir,
    manifest,
    entry: { name: e.name, path: join(filesDir, e.path), sha256: f.sha256, size: f.size },
    checked,
  };
}

/**
 * The cheap check on every load: the manifest as loadManifest checks it, every file matches its size and hash
 * (re-hashed only when its stat changed), and entry bytes are hashed as they are read.
 */
export async function loadBundle(
  store: BundleStore,
  manifestSha256: string,
  authority: Authority,
  expected: { name: string; version: string },
): Promise<LoadedBundle> {
  const dir = store.entryDir(manifestSha256);
  const filesDir = join(dir, 'files');
  const manifest = await loadManifest(store, manifestSha256, authority, expected);
  await checkFiles(store, manifestSha256, manifest, filesDir, true);
  async function readEntry(name: string): Promise<LoadedEntry> {
    const e = manifest.entries.find((x) => x.name === name);
    if (!e) throw refuse('not_in_index', `bundle ${manifest.name} has no entry ${name}`, { entry: name });
    const f = manifest.files.find((x) => x.path === e.path);
    const path = join(filesDir, e.path);
    // Bytes that were hashed (kept in memory while the file's stat is unchanged), never a fresh unchecked read.
    const h = await store.hashFile(path, true);
    if (!f || !h.bytes || h.sha256 !== f.sha256)
      throw refuse('file_mismatch', `store entry ${manifestSha256.slice(0, 12)}: entry ${e.path} was changed on disk`, {
        path: e.path,
      });
    return { name, path, bytes: h.bytes, sha256: h.sha256 };
  }
  return {
    name: manifest.name,
    version: manifest.version,
    manifestSha256,
    dir,
    filesDir,
    manifest,
    entry: await readEntry(manifest.entries[0].name),
    readEntry,
    files: manifest.files,
    limits: manifest.limits,
    capabilities: manifest.capabilities,
    tools: manifest.tools,
  };
}
