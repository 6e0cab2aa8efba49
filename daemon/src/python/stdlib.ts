// Python's stdlib as the guest's /usr/local: the bundle's lib/ files, opened once per prepare and read on demand by
// the runs (zipimport reads the zip's directory and the members it imports; the 2 MB pip wheel only ensurepip
// reads), instead of 9 MB of SharedArrayBuffers held for the daemon's lifetime.
import { join } from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { sameIdentity, type FileIdentity } from '../file-identity.js';
import { closeHostFile, hostFileUnchanged, openHostFile, type HostFileRef } from '../wasi/index.js';

/**
 * The open stdlib files, shared by every run of one prepare. A run holds them (acquire/release) so that retiring
 * them (a file changed, the sandbox closed) closes the descriptors only once no run can still read them.
 */
export class OpenStdlib {
  private users = 0;
  private retired = false;
  private closers: (() => void)[] = [];

  constructor(
    /** Mount-relative path (lib/…) to its open file. */
    readonly files: Map<string, HostFileRef>,
  ) {}

  /** Holds the files open for one run; false once retired (the caller prepares again). */
  acquire(): boolean {
    if (this.retired) return false;
    this.users++;
    return true;
  }

  release(): void {
    this.users--;
    this.closeIfIdle();
  }

  /** Whether every file is still the one opened: same device, inode, size, mtime and ctime. */
  unchanged(): boolean {
    for (const f of this.files.values()) if (!hostFileUnchanged(f)) return false;
    return true;
  }

  /** No new runs; the descriptors are closed after the last run holding them. */
  retire(): void {
    this.retired = true;
    this.closeIfIdle();
  }

  /** Runs `close` with the files' own closing (another descriptor of the same prepare: python.wasm's data). */
  alsoClose(close: () => void): void {
    this.closers.push(close);
    this.closeIfIdle();
  }

  /** Descriptors still open (tests: none after close). */
  get openCount(): number {
    return [...this.files.values()].filter((f) => f.fd >= 0).length;
  }

  private closeIfIdle(): void {
    if (!this.retired || this.users > 0) return;
    for (const f of this.files.values()) closeHostFile(f);
    for (const close of this.closers.splice(0)) close();
  }
}

const mismatch = (rel: string, why: string) =>
  new ShadowboxError(
    ErrorCodes.BundleVerificationFailed,
    'file_mismatch',
    `python bundle: ${rel} is not the file that was checked (${why})`,
    { path: rel },
  );

/**
 * Opens exactly the files `lib` names (the signed manifest's files under `filesDir`/lib, never a listing of the
 * folder: a file dropped into the store is not served), each refused unless its descriptor is the very file the
 * bundle's check hashed (same device, inode, size, mtime and ctime): one replaced or changed between the check and
 * this open fails the prepare with BundleVerificationFailed/file_mismatch, and the next call checks the bundle
 * again. All or none stay open.
 */
export function openStdlib(filesDir: string, lib: ReadonlyMap<string, FileIdentity>): OpenStdlib {
  const files = new Map<string, HostFileRef>();
  try {
    for (const [rel, checked] of lib) {
      // The manifest's paths are checked relative paths (bundles/manifest.ts); lib/ is the mount's root.
      if (!rel.startsWith('lib/')) continue;
      let ref: HostFileRef;
      try {
        ref = openHostFile(join(filesDir, rel), rel);
      } catch (e) {
        // Gone, a symlink (O_NOFOLLOW), a FIFO or folder swapped in since the check: not the checked file either.
        throw mismatch(rel, (e as Error).message);
      }
      files.set(rel, ref);
      if (!sameIdentity(ref.identity, checked)) throw mismatch(rel, 'replaced or changed on disk since');
    }
  } catch (e) {
    for (const f of files.values()) closeHostFile(f);
    throw e;
  }
  return new OpenStdlib(files);
}
