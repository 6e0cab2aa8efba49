import { chmodSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';

/** What ensurePrivateDir found: whether the daemon created the folder, and its mode. */
export interface PrivateDir {
  dir: string;
  created: boolean;
  /** Permission bits of the folder (0o700 when created here). */
  mode: number;
}

const STICKY = 0o1000;

/** The uid the checks compare owners with (process.getuid; Windows has none). */
function myUid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

/** The folder's stat, or null when a file is in the way of its path (ENOTDIR). */
function statOrNull(p: string) {
  try {
    return statSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

const modeText = (m: number) => (m & 0o7777).toString(8).padStart(4, '0');

/**
 * Why: the daemon keeps private files (keys, the socket) in folders a person names (`SHADOWBOX_STATE_DIR`,
 * `SHADOWBOX_SOCKET`), and such a folder may be `/tmp`, `$HOME` or `/`. A missing folder is created 0700 (it
 * is then the daemon's); an existing one is used as it is — its mode is never changed — and refused with a
 * clear error when another user owns it or can write it, or when a folder above it could be renamed away by
 * another user (writable by others without the sticky bit, or owned by someone other than root or us), as
 * tmux and OpenSSH check theirs. `what` names the folder in the error (`state_dir_unsafe`, `socket_dir_unsafe`);
 * `file` is the socket's name, for the suggestion.
 */
export async function ensurePrivateDir(
  dir: string,
  what: 'state' | 'socket',
  file = 'daemon.sock',
): Promise<PrivateDir> {
  const abs = path.resolve(dir);
  // mkdir fails on a file in the way (EEXIST, ENOTDIR): the checks below name it.
  // Synchronous, as the daemon's other file operations before it listens (acquireLock says why).
  let first: string | undefined;
  try {
    first = mkdirSync(abs, { recursive: true, mode: 0o700 });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTDIR') throw e;
  }
  const created = first !== undefined;
  let st = statOrNull(abs);
  // A folder made here is the daemon's: a umask that took the owner's own bits away is undone.
  if (st && created && (st.mode & 0o700) !== 0o700) {
    chmodSync(abs, 0o700);
    st = statSync(abs);
  }
  const uid = myUid();
  const reason = what === 'state' ? 'state_dir_unsafe' : 'socket_dir_unsafe';
  const label = what === 'state' ? 'state folder' : 'socket folder';
  const refuse = (why: string, details: Record<string, unknown>) =>
    new ShadowboxError(
      ErrorCodes.ConfigInvalid,
      reason,
      `the ${label} ${abs} ${why}; shadowbox does not change the mode of a folder it did not create. ` +
        (what === 'state'
          ? 'Choose a folder only you can write (SHADOWBOX_STATE_DIR), or let shadowbox create a new one.'
          : `Put the socket in a folder only you can write (SHADOWBOX_SOCKET=${path.join(abs, `shadowbox-${uid ?? 'me'}`, file)} is created 0700), or unset SHADOWBOX_SOCKET.`),
      { dir: abs, ...details },
    );
  if (!st?.isDirectory()) throw refuse('is not a folder', {});
  if (uid !== null && st.uid !== uid) throw refuse(`belongs to another user (uid ${st.uid})`, { owner: st.uid });
  if ((st.mode & 0o022) !== 0)
    throw refuse(`can be written by other users (mode ${modeText(st.mode)})`, { mode: modeText(st.mode) });
  // Every folder above must keep others from renaming this one away.
  for (let d = path.dirname(abs), prev = abs; d !== prev; prev = d, d = path.dirname(d)) {
    const up = statSync(d);
    const foreign = uid !== null && up.uid !== 0 && up.uid !== uid;
    const openToOthers = (up.mode & 0o022) !== 0 && (up.mode & STICKY) === 0;
    if (foreign || openToOthers)
      throw refuse(
        `lies inside ${d}, which ${foreign ? `belongs to uid ${up.uid}` : `others can write (mode ${modeText(up.mode)})`}`,
        {
          ancestor: d,
          mode: modeText(up.mode),
        },
      );
  }
  return { dir: abs, created, mode: st.mode & 0o7777 };
}
