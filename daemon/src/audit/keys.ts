import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as nodeSign,
  timingSafeEqual,
  verify as nodeVerify,
} from 'node:crypto';
import { chmod, link, lstat, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { fsyncDir, type Logger, ONCE, writeFileAtomic } from '../state/index.js';
import { sha256Hex } from './canonical.js';

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));
const KeyFile = lazySchema(() =>
  z.object({ keytype: z.literal('ed25519'), public: hex(64), private: hex(64) }).strict(),
);

/** The daemon's signing key: signs audit checkpoints and authenticates every entry. */
export interface DaemonKey {
  keyId: string;
  publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
  verify(message: Uint8Array, sig: Uint8Array): boolean;
  /**
   * HMAC-SHA256 (64 hex) of an entry's hash in a workspace's log, under a key derived from the seed: every
   * entry carries one, so an entry written without the key (a forged tail, a rewrite) is told from one the
   * daemon wrote even before a checkpoint signs it.
   */
  mac(workspace: string, hash: string): string;
  /** Whether `tag` is this key's mac of (workspace, hash); constant time. */
  checkMac(workspace: string, hash: string, tag: string): boolean;
}

/** `<state dir>/daemon-key.json`, 0600: the Ed25519 seed and its public half. */
export function daemonKeyPath(stateDir: string): string {
  return path.join(stateDir, 'daemon-key.json');
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
// DER prefix of an Ed25519 PKCS#8 private key (RFC 8410); the raw 32-byte seed follows.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function fromSeed(seed: Uint8Array): DaemonKey {
  // Everything uses node:crypto: signing and verifying (~0.1 ms per signature here; tweetnacl took ~4–6 ms,
  // inside every accept, reject and undo) and deriving the public half from the seed (tweetnacl's pure-JS
  // scalar multiplication was ~30 ms of the main thread on the first session after every start). Ed25519 is
  // deterministic (RFC 8032): the public key and the signatures are the bytes tweetnacl made.
  const priv = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
  const pub = createPublicKey(priv);
  const spki = pub.export({ format: 'der', type: 'spki' });
  if (
    spki.length !== ED25519_SPKI_PREFIX.length + 32 ||
    !spki.subarray(0, ED25519_SPKI_PREFIX.length).equals(ED25519_SPKI_PREFIX)
  )
    throw new ShadowboxError(ErrorCodes.AuditFailed, 'key_corrupt', 'the daemon key is not an Ed25519 key');
  const publicKey = new Uint8Array(spki.subarray(ED25519_SPKI_PREFIX.length));
  const macKey = createHmac('sha256', seed).update('shadowbox-audit-entry-mac-v1').digest();
  const mac = (workspace: string, hash: string) =>
    createHmac('sha256', macKey).update(`${workspace}\0${hash}`).digest('hex');
  return {
    keyId: sha256Hex(publicKey).slice(0, 16),
    publicKey,
    mac,
    checkMac: (workspace, hash, tag) => {
      const want = Buffer.from(mac(workspace, hash), 'hex');
      const got = /^[0-9a-f]{64}$/.test(tag) ? Buffer.from(tag, 'hex') : Buffer.alloc(0);
      return got.length === want.length && timingSafeEqual(got, want);
    },
    sign: (m) => new Uint8Array(nodeSign(null, m, priv)),
    verify: (m, s) => {
      try {
        return s.length === 64 && nodeVerify(null, m, pub, s);
      } catch {
        return false;
      }
    },
  };
}

async function read(file: string, logger: Logger): Promise<DaemonKey> {
  const st = await lstat(file);
  // A link (or anything but a plain file) in its place is not the key, and is not followed or chmod'ed.
  if (!st.isFile())
    throw new ShadowboxError(ErrorCodes.AuditFailed, 'key_corrupt', `daemon key ${file} is not a regular file`, {
      file,
    });
  if ((st.mode & 0o077) !== 0) {
    logger.warn(`audit: ${file} was readable by others (mode ${(st.mode & 0o777).toString(8)}); set to 0600`);
    await chmod(file, 0o600);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new ShadowboxError(
      ErrorCodes.AuditFailed,
      'key_corrupt',
      `daemon key ${file} is not valid JSON (left as is)`,
      { file },
      { cause: e },
    );
  }
  const k = KeyFile().safeParse(raw, ONCE);
  if (!k.success)
    throw new ShadowboxError(
      ErrorCodes.AuditFailed,
      'key_corrupt',
      `daemon key ${file} is invalid (left as is)`,
      { file },
      { cause: k.error },
    );
  const key = fromSeed(Buffer.from(k.data.private, 'hex'));
  if (Buffer.from(key.publicKey).toString('hex') !== k.data.public)
    throw new ShadowboxError(
      ErrorCodes.AuditFailed,
      'key_corrupt',
      `daemon key ${file}: public half does not match the seed`,
      { file },
    );
  return key;
}

/** Loads the daemon key, generating it (0600, exclusive create) on first use. */
export async function loadOrCreateDaemonKey(stateDir: string, logger: Logger): Promise<DaemonKey> {
  const file = daemonKeyPath(stateDir);
  try {
    return await read(file, logger);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const seed = randomBytes(32);
  const key = fromSeed(seed);
  const body = {
    keytype: 'ed25519',
    public: Buffer.from(key.publicKey).toString('hex'),
    private: Buffer.from(seed).toString('hex'),
  };
  // Written whole or not at all (temp file, fsync, then link into place): a crash or a full disk never
  // leaves a half-written key, and link() never replaces a key another process created meanwhile.
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFileAtomic(tmp, JSON.stringify(body) + '\n', { mode: 0o600 });
    await link(tmp, file);
    await fsyncDir(path.dirname(file));
    logger.info(`audit: generated daemon key ${key.keyId} in ${file}`);
    return key;
  } catch (e) {
    // Another process created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return read(file, logger);
    throw new ShadowboxError(
      ErrorCodes.AuditFailed,
      'key_write_failed',
      `cannot write daemon key ${file}`,
      { file },
      { cause: e },
    );
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Loads the key without creating it (verify): null when there is none. */
export async function loadDaemonKey(stateDir: string, logger: Logger): Promise<DaemonKey | null> {
  try {
    return await read(daemonKeyPath(stateDir), logger);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}
