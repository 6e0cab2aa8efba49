import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, type ReasonOf, ShadowboxError } from '../errors.js';
import {
  canonicalBytes,
  keyIdOf,
  PublicKeySchema,
  SignatureSchema,
  verifyBytes,
  type PublicKey,
  type Signature,
} from './crypto.js';
import { ONCE } from '../state/index.js';

const isoDate = lazySchema(() => z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'ISO date'));
const RoleSchema = lazySchema(() =>
  z.object({ keyids: z.array(z.string()).min(1), threshold: z.number().int().min(1) }).strict(),
);

/** The signed part of root.json: keys, the keys and threshold of each role, revoked key ids, expiry. */
export const RootSignedSchema = lazySchema(() =>
  z
    .object({
      type: z.literal('root'),
      version: z.number().int().min(1),
      expires: isoDate(),
      keys: z.record(z.string(), PublicKeySchema()),
      roles: z.object({ root: RoleSchema(), index: RoleSchema(), bundles: RoleSchema() }).strict(),
      revoked: z.array(z.string()).default([]),
      /** Whether a checkout's own build key may sign its local output dir (never accepted from a mirror). */
      localBuild: z.object({ allowed: z.boolean(), note: z.string().optional() }).strict().default({ allowed: false }),
    })
    .strict(),
);
export type RootSigned = z.infer<ReturnType<typeof RootSignedSchema>>;

/** A TUF-style signed envelope: the signatures cover the RFC 8785 bytes of `signed`. */
export function envelopeSchema<T extends z.ZodTypeAny>(signed: T) {
  return z.object({ signed, signatures: z.array(SignatureSchema()) }).strict();
}
export const RootEnvelopeSchema = lazySchema(() => envelopeSchema(RootSignedSchema()));
export type RootEnvelope = z.infer<ReturnType<typeof RootEnvelopeSchema>>;

/** A set of keys with a threshold: a role of a root, or one explicitly trusted key. */
export interface KeyRole {
  keys: Map<string, PublicKey>;
  threshold: number;
}

/** Who may sign indexes and bundles: the official root, a trusted developer key, or the checkout's local build key. */
export interface Authority {
  /** 'official', 'dev:<keyid>' or 'local:<keyid>'; the rollback state is kept per authority. */
  id: string;
  kind: 'official' | 'developer' | 'local';
  index: KeyRole;
  bundles: KeyRole;
  revoked: Set<string>;
  /** Version of the root it came from (official only): index state is reset when the index keys rotate. */
  rootVersion?: number;
  indexKeysFingerprint: string;
}

/** Stable `data.reason` values of BundleVerificationFailed (-33700) refusals, declared in protocol. */
export type BundleRefusalReason = ReasonOf<'BundleVerificationFailed'>;

/** Verification failure with one of the documented reasons. */
export function refuse(
  reason: BundleRefusalReason,
  message: string,
  details: Record<string, unknown> = {},
): ShadowboxError {
  return new ShadowboxError(ErrorCodes.BundleVerificationFailed, reason, message, details);
}

/**
 * Counts valid signatures of distinct trusted keys over `bytes`. Throws `revoked_key`, `unknown_key`,
 * `manifest_tampered` (a trusted key's signature does not match: the bytes changed after signing) or
 * `threshold`; returns the key ids that counted.
 */
export function checkThreshold(
  what: string,
  role: KeyRole,
  revoked: Set<string>,
  bytes: Uint8Array,
  sigs: Signature[],
  tamperedReason: BundleRefusalReason = 'manifest_tampered',
): string[] {
  const good = new Set<string>();
  let sawRevoked = false;
  let sawBad = false;
  for (const s of sigs) {
    if (revoked.has(s.keyid)) {
      sawRevoked = true;
      continue;
    }
    const key = role.keys.get(s.keyid);
    if (!key || good.has(s.keyid)) continue; // each key counts once
    if (verifyBytes(key, bytes, s.sig)) good.add(s.keyid);
    else sawBad = true;
  }
  if (good.size >= role.threshold) return [...good];
  if (sawBad)
    throw refuse(
      tamperedReason,
      `${what}: a signature by a trusted key does not match the signed bytes (changed after signing)`,
    );
  if (good.size === 0 && sawRevoked) throw refuse('revoked_key', `${what} is signed by a revoked key`);
  if (good.size === 0)
    throw refuse('unknown_key', `${what} is not signed by any trusted key`, { keyids: sigs.map((s) => s.keyid) });
  throw refuse('threshold', `${what} has ${good.size} valid signature(s); ${role.threshold} required`, {
    valid: good.size,
    threshold: role.threshold,
  });
}

function roleOf(root: RootSigned, name: 'root' | 'index' | 'bundles'): KeyRole {
  const r = root.roles[name];
  const keys = new Map<string, PublicKey>();
  for (const id of r.keyids) {
    const k = root.keys[id];
    if (k && keyIdOf(k) === id) keys.set(id, k);
  }
  return { keys, threshold: r.threshold };
}

/** Parses untrusted root JSON and checks it is self-consistent (key ids match their keys). */
export function parseRoot(value: unknown): RootEnvelope {
  const r = RootEnvelopeSchema().safeParse(value, ONCE);
  if (!r.success)
    throw new ShadowboxError(
      ErrorCodes.BundleInvalid,
      'root_invalid',
      `root.json is invalid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  for (const [id, k] of Object.entries(r.data.signed.keys)) {
    if (keyIdOf(k) !== id)
      throw new ShadowboxError(
        ErrorCodes.BundleInvalid,
        'root_invalid',
        `root.json key id ${id.slice(0, 12)} does not match its key`,
      );
  }
  return r.data;
}

/** Checks a root is signed by its own root role (the first, repository-shipped root); expiry is the caller's. */
export function verifySelfSignedRoot(root: RootEnvelope): void {
  checkThreshold(
    `root v${root.signed.version}`,
    roleOf(root.signed, 'root'),
    new Set(root.signed.revoked),
    canonicalBytes(root.signed),
    root.signatures,
    'root_tampered',
  );
}

/**
 * Moves trust from `trusted` to `next`: `next` must be exactly version N+1 and signed by a threshold
 * of the old root keys AND of its own root keys (TUF rotation). Expiry is checked by the caller on the
 * final root only, as TUF does.
 */
export function verifyRootRotation(trusted: RootEnvelope, next: RootEnvelope): void {
  const n = trusted.signed.version;
  if (next.signed.version !== n + 1)
    throw refuse('rollback', `root rotation must go from v${n} to v${n + 1}, got v${next.signed.version}`);
  const bytes = canonicalBytes(next.signed);
  checkThreshold(
    `root v${n + 1} (old keys)`,
    roleOf(trusted.signed, 'root'),
    new Set(trusted.signed.revoked),
    bytes,
    next.signatures,
    'root_tampered',
  );
  checkThreshold(
    `root v${n + 1} (new keys)`,
    roleOf(next.signed, 'root'),
    new Set(next.signed.revoked),
    bytes,
    next.signatures,
    'root_tampered',
  );
}

function fingerprint(role: KeyRole): string {
  return `${role.threshold}:${[...role.keys.keys()].sort().join(',')}`;
}

/** The official authority a verified root describes. */
export function officialAuthority(root: RootEnvelope): Authority {
  const index = roleOf(root.signed, 'index');
  return {
    id: 'official',
    kind: 'official',
    index,
    bundles: roleOf(root.signed, 'bundles'),
    revoked: new Set(root.signed.revoked),
    rootVersion: root.signed.version,
    indexKeysFingerprint: fingerprint(index),
  };
}

/** A single explicitly trusted key acting as both index and bundle signer (threshold 1). */
export function singleKeyAuthority(kind: 'developer' | 'local', key: PublicKey, revoked: Set<string>): Authority {
  const id = keyIdOf(key);
  const role = { keys: new Map([[id, key]]), threshold: 1 };
  return {
    id: `${kind === 'local' ? 'local' : 'dev'}:${id}`,
    kind,
    index: role,
    bundles: role,
    revoked,
    indexKeysFingerprint: fingerprint(role),
  };
}

const REASON_RANK = ['manifest_tampered', 'index_tampered', 'root_tampered', 'threshold', 'revoked_key', 'unknown_key'];

/** Of several refusals (one per authority tried), the most specific one to report. */
export function mostSpecific(errors: ShadowboxError[]): ShadowboxError | undefined {
  const rank = (r: string) => (REASON_RANK.includes(r) ? REASON_RANK.indexOf(r) : REASON_RANK.length);
  return [...errors].sort((a, b) => rank(a.reason) - rank(b.reason))[0];
}
