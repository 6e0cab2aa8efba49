// Test support: a real small filesystem that can be filled and freed, for disk-full tests.
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  rmdirSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A mounted tmpfs of a fixed size: `fill()` leaves no free byte, `free()` gives the space back. */
export interface SmallDisk {
  dir: string;
  fill(): void;
  /** Fills the disk, then frees `bytes` of it again (a nearly full disk with exactly that much room). */
  fillLeaving(bytes: number): void;
  /** Uses up the disk's inodes (empty files), then frees `n` of them again (mounted with `inodes`). */
  fillInodesLeaving(n: number): void;
  free(): void;
  unmount(): void;
}

/**
 * Mounts a tmpfs of `bytes` (and at most `inodes` files and folders, when given) at a fresh folder (needs root, as in
 * CI); null when the mount is not allowed, and the caller's test then says so. A real filesystem, so ENOSPC comes from
 * the kernel.
 */
export function mountSmallDisk(bytes: number, inodes?: number): SmallDisk | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-disk-'));
  try {
    const opts = `size=${bytes},mode=0700${inodes === undefined ? '' : `,nr_inodes=${inodes}`}`;
    execFileSync('mount', ['-t', 'tmpfs', '-o', opts, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmdirSync(dir);
    return null;
  }
  const filler = path.join(dir, '.filler');
  const inodeFiller = path.join(dir, '.inodes');
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
    fillInodesLeaving(n) {
      mkdirSync(inodeFiller, { recursive: true });
      let made = 0;
      try {
        for (;;) writeFileSync(path.join(inodeFiller, String(made++)), '');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        made--;
      }
      for (let i = 0; i < Math.min(n, made); i++) rmSync(path.join(inodeFiller, String(i)));
    },
    free() {
      rmSync(filler, { force: true });
      rmSync(inodeFiller, { recursive: true, force: true });
    },
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      rmdirSync(dir);
    },
  };
}
