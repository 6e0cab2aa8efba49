import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { z } from 'zod';
import { ErrorCodes, lazySchema } from '@shadowbox/protocol';
import { ShadowboxError } from '../errors.js';
import { writeFileAtomic } from './durable.js';
import { readJsonFileOrNull, readJsonFileOrNullSync } from './json-file.js';

/** What the lock file says about the daemon that holds it. */
export const LockInfo = lazySchema(() =>
  z.object({
    pid: z.number().int(),
    socketPath: z.string().nullable(),
    webUrl: z.string().nullable(),
    startedAt: z.string(),
    version: z.string(),
  }),
);
export type LockInfo = z.infer<ReturnType<typeof LockInfo>>;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock when its process is alive, else null. */
const held = (lock: LockInfo | null) => (lock && alive(lock.pid) ? lock : null);

/** Reads the lock file; null when absent, unreadable or held by a dead process. */
export async function readLock(lockFile: string): Promise<LockInfo | null> {
  return held(await readJsonFileOrNull(lockFile, LockInfo()));
}

/**
 * One daemon per state dir: take the lock or say where the running daemon is. Its file operations are synchronous: a
 * daemon takes the lock before it listens, when nothing waits on its event loop, and each asynchronous one was a
 * thread-pool round trip (~0.6 ms on a small VM, against ~0.15 ms).
 */
export async function acquireLock(
  lockFile: string,
  info: LockInfo,
): Promise<{ update(patch: Partial<LockInfo>): Promise<void>; release(): Promise<void> }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const existing = held(readJsonFileOrNullSync(lockFile, LockInfo()));
    if (existing && existing.pid !== process.pid) {
      throw new ShadowboxError(
        ErrorCodes.InternalError,
        'daemon_running',
        `a shadowbox daemon is already running for this state dir (pid ${existing.pid}, socket ${existing.socketPath ?? 'none'}${existing.webUrl ? `, web ${existing.webUrl}` : ''})`,
        { pid: existing.pid, socketPath: existing.socketPath },
      );
    }
    if (!existing) rmSync(lockFile, { force: true });
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      try {
        writeFileSync(fd, JSON.stringify(info));
      } catch (e) {
        // A full disk: no half-written lock stays behind.
        closeSync(fd);
        rmSync(lockFile, { force: true });
        throw e;
      }
      closeSync(fd);
      let current = info;
      return {
        update: async (patch) => {
          current = { ...current, ...patch };
          // Atomic: a full disk leaves the previous lock, never an empty one another daemon would take over.
          // Not fsynced (two fsyncs less on every start's way to ready): a lock only means something while
          // its process lives, and after a crash whatever the file holds — this, the previous one, or a torn
          // one — names a dead or foreign process and is taken over (readLock; tested).
          await writeFileAtomic(lockFile, JSON.stringify(current), { mode: 0o600, durability: 'none' });
        },
        release: async () => {
          const now = await readLock(lockFile);
          if (now?.pid === process.pid) await rm(lockFile, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new ShadowboxError(ErrorCodes.InternalError, 'lock_contended', `could not take the daemon lock ${lockFile}`);
}
