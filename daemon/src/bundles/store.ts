import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { identityOf, sameIdentity, type FileIdentity } from '../file-identity.js';
import { sha256Hex } from './crypto.js';
import { HashCache, sameStat } from './hash-cache.js';
import type { Manifest } from './manifest.js';
import { fsyncDir, readWholeInto, writeFileAtomic, writeNewFileSynced } from '../state/index.js';
import type { BundleContent } from './verify.js';
import { ONCE } from '../state/index.js';

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
  /** Writes a verified bundle (temp folder + rename, so an entry is complete or absent). */
  put(manifestSha256: string, content: BundleContent, manifest: Manifest): Promise<string>;
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
  return {
    root,
    entryDir: (h) => join(storeDir, h),
    async has(h) {
      return (await stat(join(storeDir, h, 'manifest.json')).catch(() => null)) !== null;
    },
    async put(h, content, manifest) {
      const final = join(storeDir, h);
      if (await this.has(h)) await rm(final, { recursive: true, force: true });
      const tmp = join(storeDir, `.tmp-${h.slice(0, 16)}-${process.pid}-${Date.now()}`);
      // Every file and folder is fsynced before the rename, and the store folder after it: a crash or
      // power loss leaves either no entry or a whole one (a temp folder is removed by the next put).
      await removeStaleTemps(storeDir);
      const dirs = new Set([tmp, join(tmp, 'files')]);
      await mkdir(join(tmp, 'files'), { recursive: true });
      await writeNewFileSynced(
        join(tmp, 'manifest.json'),
        `${JSON.stringify(content.manifestValue, null, 2)}\n`,
        0o644,
      );
      await writeNewFileSynced(
        join(tmp, 'manifest.sig.json'),
        `${JSON.stringify({ manifestSha256: h, signatures: content.signatures }, null, 2)}\n`,
        0o644,
      );
      for (const f of manifest.files) {
        const p = join(tmp, 'files', f.path);
        for (let d = dirname(p); d.startsWith(join(tmp, 'files')); d = dirname(d)) dirs.add(d);
        await mkdir(dirname(p), { recursive: true });
        await writeNewFileSynced(p, content.files.get(f.path) ?? Buffer.alloc(0), 0o444);
      }
      for (const d of dirs) await fsyncDir(d);
      try {
        await rename(tmp, final);
      } catch (e) {
        // Another installer won the race with the same content-addressed entry.
        await rm(tmp, { recursive: true, force: true });
        if (!(await this.has(h))) throw e;
      }
      await fsyncDir(storeDir);
      return final;
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
        const bytes = await readWhole(fh);
        const sha256 = sha256Hex(bytes);
        const identity = identityOf(at);
        // Remembered only when nothing changed during the read: a write then changes ctime, and the next call
        // reads again; the identity handed back is the one before the read, so its reader refuses such a file.
        if (sameIdentity(identityOf(await fh.stat({ bigint: true })), identity)) {
          const key = {
            dev: Number(at.dev),
            ino: Number(at.ino),
            size: bytes.length,
            mtimeNs: at.mtimeNs,
            ctimeNs: at.ctimeNs,
            sha256,
          };
          statCache.set(path, { ...key, ...(keepBytes ? { bytes: new WeakRef(bytes) } : {}) });
          if (!keepBytes && bytes.length === Number(at.size)) void keptHashes.set(path, key);
        } else statCache.delete(path);
        return { sha256, size: bytes.length, bytes, identity };
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

/** Temp folders of puts whose process is gone (a crash mid-install): removed before the next put. */
async function removeStaleTemps(storeDir: string): Promise<void> {
  for (const name of await readdir(storeDir).catch(() => [] as string[])) {
    const m = /^\.tmp-[0-9a-f]{16}-(\d+)-\d+$/.exec(name);
    if (!m || Number(m[1]) === process.pid || alive(Number(m[1]))) continue;
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
