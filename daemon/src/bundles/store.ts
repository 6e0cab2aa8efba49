import { type BigIntStats, constants } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { type FileHandle, lstat, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { identityOf, sameIdentity, type FileIdentity } from '../file-identity.js';
import { sha256Hex, type Signature } from './crypto.js';
import { HashCache, type KeptHash, sameStat } from './hash-cache.js';
import { refuse } from './trust.js';
import {
  fsyncDir,
  hashFileHandle,
  mapDiskFull,
  mkdirAll,
  ONCE,
  readWholeInto,
  writeAll,
  writeFileAtomic,
  writeNewFileSynced,
} from '../state/index.js';

/** What installed.json remembers about one installed name@version. */
export const InstalledRecordSchema = lazySchema(() =>
  z
    .object({
      manifestSha256: z.string().regex(/^[0-9a-f]{64}$/),
      source: z.string(),
      authority: z.string(),
      keyIds: z.array(z.string()),
      installedAt: z.string(),
    })
    .strict(),
);
export type InstalledRecord = z.infer<ReturnType<typeof InstalledRecordSchema>>;
const InstalledSchema = lazySchema(() =>
  z.object({ bundles: z.record(z.string(), z.record(z.string(), InstalledRecordSchema())) }).strict(),
);
export type Installed = z.infer<ReturnType<typeof InstalledSchema>>;

/** Reads a JSON state file with a zod schema; a missing file gives `fallback`, a corrupt one throws. */
export async function readState<T>(path: string, schema: z.ZodType<T>, fallback: T): Promise<T> {
  const raw = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (raw === null) return fallback;
  return schema.parse(JSON.parse(raw) as unknown, ONCE);
}

/** The content-addressed store under `<stateDir>/bundles/`: one folder per manifest SHA-256. */
export interface BundleStore {
  root: string;
  entryDir(manifestSha256: string): string;
  has(manifestSha256: string): Promise<boolean>;
  /**
   * A new entry, written as its archive streams in: files go to a temp folder, which becomes the entry only when
   * the install has verified them (`commit`: temp folder + rename, so an entry is complete or absent).
   */
  stage(): Promise<StagedEntry>;
  readInstalled(): Promise<Installed>;
  recordInstalled(name: string, version: string, rec: InstalledRecord): Promise<void>;
  /**
   * SHA-256 of a store file, re-hashed only when its inode, size, mtime or ctime changed. With
   * `keepBytes` the verified bytes are kept in memory (weakly) and returned while the file is unchanged
   * (entry modules: the runner gets bytes that were hashed, without re-reading them). `identity` is the
   * identity the hash stands for (the `fstat`, before the read, of the descriptor the bytes were read through; on a
   * cache hit the path's stat, equal to it): whoever opens the file later compares its own `fstat` with it.
   */
  hashFile(
    path: string,
    keepBytes?: boolean,
  ): Promise<{ sha256: string; size: number; bytes?: Buffer; identity: FileIdentity }>;
}

/** A payload file being written into a staged entry: its bytes in order, then `close`. */
export interface StagedFile {
  write(bytes: Uint8Array): Promise<void>;
  /** fsyncs and closes the file. */
  close(): Promise<void>;
}

/** A store entry being written (BundleStore.stage). */
export interface StagedEntry {
  /** Creates one payload file (exclusively; its folders are made) at a path the archive reader checked. */
  createFile(path: string): Promise<StagedFile>;
  /**
   * Writes the manifest and its signatures, fsyncs every file and folder, and renames the folder into place as the
   * entry `manifestSha256`. `digests` are the verified size and SHA-256 of each file as written: they are kept as
   * the files' hashes (hash-cache.ts), so the first load after an install does not read them again.
   */
  commit(
    manifestSha256: string,
    manifestValue: unknown,
    signatures: Signature[],
    digests: ReadonlyMap<string, { size: number; sha256: string }>,
  ): Promise<string>;
  /** Removes the temp folder (a refused or failed install). Safe to call after commit or twice. */
  discard(): Promise<void>;
}

interface StatKey {
  dev?: number;
  ino: number;
  size: number;
  mtimeNs: bigint;
  ctimeNs: bigint;
  sha256: string;
  /**
   * The verified bytes, held weakly: a runner that keeps the module (python compiles it once) does not
   * also pin a second copy here (13 MiB for CPython); once collected, the next load reads and hashes again.
   */
  bytes?: WeakRef<Buffer>;
}

/** Opens (creating lazily) the store in `<stateDir>/bundles`. */
export function openStore(stateDir: string): BundleStore {
  const root = join(stateDir, 'bundles');
  const storeDir = join(root, 'store');
  const installedPath = join(root, 'installed.json');
  // ctime cannot be set by an unprivileged writer, so an unchanged (ino, size, mtime, ctime) means unchanged bytes.
  const statCache = new Map<string, StatKey>();
  // The same keys across restarts (hash-cache.ts): a start does not read and hash every installed file again.
  const keptHashes = new HashCache(join(root, 'hash-cache.json'));
  let installQueue: Promise<unknown> = Promise.resolve();
  // The temp folders of this process's stages not yet committed or discarded.
  const staging = new Set<string>();
  const has = async (h: string) => (await stat(join(storeDir, h, 'manifest.json')).catch(() => null)) !== null;
  // A file just written and verified, kept as hashFile would keep it once read: only while it is still the file
  // that was closed (a rename moves the entry, not its files' inodes or times).
  async function keepHash(path: string, closed: BigIntStats, sha256: string): Promise<void> {
    const now = await lstat(path, { bigint: true }).catch(() => null);
    const key: KeptHash = {
      dev: Number(closed.dev),
      ino: Number(closed.ino),
      size: Number(closed.size),
      mtimeNs: closed.mtimeNs,
      ctimeNs: closed.ctimeNs,
      sha256,
    };
    if (!now?.isFile() || !sameStat(key, now)) return;
    statCache.set(path, key);
    await keptHashes.set(path, key);
  }
  return {
    root,
    entryDir: (h) => join(storeDir, h),
    has,
    async stage() {
      await removeStaleTemps(storeDir, staging);
      const name = `.tmp-${randomBytes(8).toString('hex')}-${process.pid}-${Date.now()}`;
      const tmp = join(storeDir, name);
      const filesDir = join(tmp, 'files');
      // One level at a time: a recursive mkdir reports a lack of inodes as ENOENT, not ENOSPC.
      await mapDiskFull(storeDir, () => mkdirAll(storeDir));
      await mapDiskFull(tmp, () => mkdir(tmp));
      staging.add(name);
      try {
        await mapDiskFull(filesDir, () => mkdir(filesDir));
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        staging.delete(name);
        throw e;
      }
      const dirs = new Set([tmp, filesDir]);
      // Each file's stat as it was closed: the identity its verified hash is kept under after the rename.
      const written = new Map<string, BigIntStats>();
      let committed = false;
      return {
        async createFile(path) {
          const p = join(filesDir, path);
          const fh = await mapDiskFull(p, async () => {
            const parents: string[] = [];
            for (let d = dirname(p); d !== filesDir && d.startsWith(filesDir) && !dirs.has(d); d = dirname(d))
              parents.unshift(d);
            for (const d of parents) {
              await mkdir(d).catch((e: NodeJS.ErrnoException) => {
                if (e.code !== 'EEXIST') throw e;
              });
              dirs.add(d);
            }
            return open(p, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o444);
          }).catch((e: NodeJS.ErrnoException) => {
            // A name the file system cannot hold, or that collides with another (a file where a folder is needed).
            if (['ENOTDIR', 'EEXIST', 'EISDIR', 'ENAMETOOLONG'].includes(e.code ?? ''))
              throw refuse('invalid_path', `bundle file ${path} cannot be written (${e.code})`, { path });
            throw e;
          });
          return {
            write: (bytes) => mapDiskFull(p, () => writeAll(fh.fd, bytes, bytes.byteLength, p)),
            async close() {
              try {
                await mapDiskFull(p, async () => {
                  await fh.sync();
                  written.set(path, await fh.stat({ bigint: true }));
                });
              } finally {
                await fh.close();
              }
            },
          };
        },
        async commit(h, manifestValue, signatures, digests) {
          const final = join(storeDir, h);
          await writeNewFileSynced(join(tmp, 'manifest.json'), `${JSON.stringify(manifestValue, null, 2)}\n`, 0o644);
          await writeNewFileSynced(
            join(tmp, 'manifest.sig.json'),
            `${JSON.stringify({ manifestSha256: h, signatures }, null, 2)}\n`,
            0o644,
          );
          // Every file was fsynced as it was closed, every folder is before the rename, and the store folder after
          // it: a crash or power loss leaves either no entry or a whole one (a temp folder is removed by the next
          // stage).
          for (const d of dirs) await fsyncDir(d);
          if (await has(h)) await rm(final, { recursive: true, force: true });
          try {
            await rename(tmp, final);
          } catch (e) {
            // Another installer won the race with the same content-addressed entry.
            await rm(tmp, { recursive: true, force: true });
            committed = true;
            staging.delete(name);
            if (!(await has(h))) throw e;
            return final;
          }
          committed = true;
          staging.delete(name);
          await fsyncDir(storeDir);
          for (const [path, st] of written) {
            const d = digests.get(path);
            if (d && d.size === Number(st.size)) await keepHash(join(final, 'files', path), st, d.sha256);
          }
          return final;
        },
        async discard() {
          if (committed) return;
          await rm(tmp, { recursive: true, force: true });
          staging.delete(name);
        },
      };
    },
    readInstalled: () => readState(installedPath, InstalledSchema(), { bundles: {} }),
    async recordInstalled(name, version, rec) {
      const next = installQueue.then(async () => {
        const cur = await readState(installedPath, InstalledSchema(), { bundles: {} });
        cur.bundles[name] = { ...(cur.bundles[name] ?? {}), [version]: rec };
        await writeFileAtomic(installedPath, `${JSON.stringify(cur, null, 2)}\n`, { mkdirMode: 0o700 });
      });
      installQueue = next.catch(() => undefined);
      await next;
    },
    async hashFile(path, keepBytes = false) {
      const st = await stat(path, { bigint: true });
      const hit = statCache.get(path);
      if (hit && sameStat(hit, st)) {
        const kept = hit.bytes?.deref();
        if (!keepBytes || kept)
          return { sha256: hit.sha256, size: hit.size, identity: identityOf(st), ...(kept ? { bytes: kept } : {}) };
      }
      // A file an earlier daemon hashed and unchanged since (hash-cache.json). Not for entries: bytes that will
      // run are hashed as they are read in each process, so the code executed is always the signed code.
      if (!keepBytes) {
        const before = await keptHashes.get(path);
        if (before && sameStat(before, st)) {
          statCache.set(path, { ...before });
          return { sha256: before.sha256, size: before.size, identity: identityOf(st) };
        }
      }
      // Read through one descriptor, whose own fstat is the identity: a stat of the path and a read of it could be
      // two files (a folder renamed between them), and the hash would then stand for a file it never read.
      const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      try {
        const at = await fh.stat({ bigint: true });
        if (!at.isFile()) throw new Error(`${path} is not a regular file`);
        // An entry's bytes are read whole (they are handed on to run); any other file is hashed as it streams past.
        let bytes: Buffer | undefined;
        let sha256: string;
        let size = 0;
        if (keepBytes) {
          bytes = await readWhole(fh);
          sha256 = sha256Hex(bytes);
          size = bytes.length;
        } else {
          const h = createHash('sha256');
          size = await hashFileHandle(h, fh, Number(at.size));
          sha256 = h.digest('hex');
        }
        const identity = identityOf(at);
        // Remembered only when nothing changed during the read: a write then changes ctime, and the next call
        // reads again; the identity handed back is the one before the read, so its reader refuses such a file.
        if (sameIdentity(identityOf(await fh.stat({ bigint: true })), identity)) {
          const key = {
            dev: Number(at.dev),
            ino: Number(at.ino),
            size,
            mtimeNs: at.mtimeNs,
            ctimeNs: at.ctimeNs,
            sha256,
          };
          statCache.set(path, { ...key, ...(bytes ? { bytes: new WeakRef(bytes) } : {}) });
          if (!keepBytes && size === Number(at.size)) void keptHashes.set(path, key);
        } else statCache.delete(path);
        return { sha256, size, identity, ...(bytes ? { bytes } : {}) };
      } finally {
        await fh.close();
      }
    },
  };
}

/**
 * A file's bytes in one read call where the kernel allows. fs/promises' readFile reads 512 KiB per round trip
 * through the event loop: 27 of them for CPython's 13 MiB entry, each a turn on a main thread that is busy
 * right after start (~25 ms of main-thread time in a profile of python's first call). What is read is what gets
 * hashed and run.
 */
async function readWhole(fh: FileHandle): Promise<Buffer> {
  const { bytes, read } = await readWholeInto(fh, (size) => Buffer.allocUnsafe(size));
  return read === bytes.length ? bytes : bytes.subarray(0, read);
}

/**
 * Temp folders of stages whose process is gone (a crash mid-install), and this process's own that no stage holds
 * (a process with the same pid before it, as in a container where the daemon is always pid 1): removed before the
 * next stage.
 */
async function removeStaleTemps(storeDir: string, active: ReadonlySet<string>): Promise<void> {
  for (const name of await readdir(storeDir).catch(() => [] as string[])) {
    const m = /^\.tmp-[0-9a-f]{16}-(\d+)-\d+$/.exec(name);
    if (!m || active.has(name)) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && alive(pid)) continue;
    await rm(join(storeDir, name), { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
