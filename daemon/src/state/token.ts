import { readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from './durable.js';
// node:crypto is loaded on first use, not with this module: a CLI command that never needs it (status, stop) saves
// ~5 ms of loading it.
const crypto = () => process.getBuiltinModule('node:crypto');

/** A fresh random per-daemon token, written 0600 (temp + rename, never world-readable in between). */
export async function writeToken(tokenFile: string): Promise<string> {
  const token = crypto().randomBytes(32).toString('base64url');
  await writeFileAtomic(tokenFile, `${token}\n`, { mode: 0o600 });
  return token;
}

/** Reads the token a running daemon wrote; null when absent or unreadable. Synchronous: one small file, read by the
 * daemon before it listens (loadOrCreateToken) and by a short-lived CLI command. */
export function readToken(tokenFile: string): string | null {
  try {
    return readFileSync(tokenFile, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

/**
 * The token of the previous daemon when its file is intact and private (0600, our format), else a new
 * one: an open web page reconnects by itself after a daemon restart. Delete the file to rotate it. Read synchronously:
 * a daemon loads it before it listens, when nothing waits on its event loop (acquireLock says why).
 */
export async function loadOrCreateToken(tokenFile: string): Promise<string> {
  const st = statSync(tokenFile, { throwIfNoEntry: false });
  if (
    st &&
    st.isFile() &&
    (st.mode & 0o077) === 0 &&
    (typeof process.getuid !== 'function' || st.uid === process.getuid())
  ) {
    const token = readToken(tokenFile);
    if (token && /^[A-Za-z0-9_-]{43}$/.test(token)) return token;
  }
  return writeToken(tokenFile);
}
