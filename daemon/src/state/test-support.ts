// Test support: a real small filesystem that can be filled and freed, for disk-full tests.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, statSync, truncateSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A mounted tmpfs of a fixed size: `fill()` leaves no free byte, `free()` gives the space back. */
export interface SmallDisk {
  dir: string;
  fill(): void;
  /** Fills the disk, then frees `bytes` of it again (a nearly full disk with exactly that much room). */
  fillLeaving(bytes: number): void;
  free(): void;
  unmount(): void;
}

/**
 * Mounts a tmpfs of `bytes` at a fresh folder (needs root, as in CI); null when the mount is not
 * allowed, and the caller's test then says so. A real filesystem, so ENOSPC comes from the kernel.
 */
export function mountSmallDisk(bytes: number): SmallDisk | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmdirSync(dir);
    return null;
  }
  const filler = path.join(dir, '.filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
      // The last partial block: tmpfs accepts writes down to the final byte.
      try {
        for (;;) writeSync(fd, chunk, 0, 512);
      } catch {
        /* full */
      } finally {
        closeSync(fd);
      }
    },
    fillLeaving(bytes) {
      this.fill();
      const size = statSync(filler).size;
      truncateSync(filler, Math.max(0, size - bytes));
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      rmdirSync(dir);
    },
  };
}
