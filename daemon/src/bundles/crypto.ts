import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import nacl from 'tweetnacl';
import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { canonicalize, sha256Hex } from '../canonical.js';
import { ErrorCodes, ShadowboxError } from '../errors.js';

export { sha256Hex };

/** RFC 8785 canonical bytes of a JSON value: what every signature covers. */
export function canonicalBytes(value: unknown): Buffer {
  const text = canonicalize(value);
  if (text === undefined)
    throw new ShadowboxError(ErrorCodes.BundleInvalid, 'not_canonicalizable', 'value has no canonical JSON form');
  return Buffer.from(text, 'utf8');
}

const hex = (len: number) => z.string().regex(new RegExp(`^[0-9a-f]{${len}}$`));

/** A public key as it appears in root.json and in a key file handed to `bundles trust`. */
export const PublicKeySchema = lazySchema(() =>
  z.object({ keytype: z.literal('ed25519'), scheme: z.literal('ed25519'), public: hex(64) }).strict(),
);
export type PublicKey = z.infer<ReturnType<typeof PublicKeySchema>>;

/** A private key file (kept outside the repository): the Ed25519 seed plus its public half. */
export const PrivateKeyFileSchema = lazySchema(() =>
  z
    .object({
      keyid: hex(64),
      keytype: z.literal('ed25519'),
      scheme: z.literal('ed25519'),
      public: hex(64),
      private: hex(64),
      role: z.string().optional(),
    })
    .strict(),
);
export type PrivateKeyFile = z.infer<ReturnType<typeof PrivateKeyFileSchema>>;

/** A public key file: what `bundles trust KEYFILE` reads (a private key file is accepted too; only its public half is used). */
export const PublicKeyFileSchema = lazySchema(() =>
  z.object({
    keyid: hex(64),
    keytype: z.literal('ed25519'),
    scheme: z.literal('ed25519'),
    public: hex(64),
    role: z.string().optional(),
  }),
);

/** One signature in a detached signature file or a signed envelope. */
export const SignatureSchema = lazySchema(() => z.object({ keyid: hex(64), sig: hex(128) }).strict());
export type Signature = z.infer<ReturnType<typeof SignatureSchema>>;

/** TUF-style key id: SHA-256 of the canonical JSON of the public key object. */
export function keyIdOf(key: PublicKey): string {
  return sha256Hex(canonicalBytes({ keytype: key.keytype, scheme: key.scheme, public: key.public }));
}

/** Makes a fresh signing key (tweetnacl's CSPRNG-backed keypair). */
export function generateKey(role?: string): PrivateKeyFile {
  const pair = nacl.sign.keyPair();
  const pub: PublicKey = { keytype: 'ed25519', scheme: 'ed25519', public: Buffer.from(pair.publicKey).toString('hex') };
  const seed = Buffer.from(pair.secretKey.subarray(0, 32)).toString('hex');
  return { keyid: keyIdOf(pub), ...pub, private: seed, ...(role ? { role } : {}) };
}

/** The public half of a key file. */
export function publicOf(key: PrivateKeyFile | z.infer<ReturnType<typeof PublicKeyFileSchema>>): PublicKey {
  return { keytype: 'ed25519', scheme: 'ed25519', public: key.public };
}

/** Signs canonical bytes with tweetnacl (deterministic Ed25519: same key + bytes give the same signature). */
export function signBytes(key: PrivateKeyFile, bytes: Uint8Array): Signature {
  const pair = nacl.sign.keyPair.fromSeed(Buffer.from(key.private, 'hex'));
  if (Buffer.from(pair.publicKey).toString('hex') !== key.public) {
    throw new ShadowboxError(
      ErrorCodes.BundleInvalid,
      'key_mismatch',
      `private key ${key.keyid.slice(0, 12)} does not match its public half`,
    );
  }
  return { keyid: keyIdOf(publicOf(key)), sig: Buffer.from(nacl.sign.detached(bytes, pair.secretKey)).toString('hex') };
}

// DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** Verifies with node:crypto (≈50× faster than tweetnacl here; same Ed25519 bytes). */
export function verifyBytes(key: PublicKey, bytes: Uint8Array, sigHex: string): boolean {
  try {
    const der = Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(key.public, 'hex')]);
    return nodeVerify(
      null,
      bytes,
      createPublicKey({ key: der, format: 'der', type: 'spki' }),
      Buffer.from(sigHex, 'hex'),
    );
  } catch {
    return false;
  }
}
