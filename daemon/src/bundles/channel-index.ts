import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import { canonicalBytes } from './crypto.js';
import { checkThreshold, envelopeSchema, mostSpecific, refuse, type Authority } from './trust.js';
import { ONCE } from '../state/index.js';

const sha256 = lazySchema(() => z.string().regex(/^[0-9a-f]{64}$/));

/** One bundle version as the channel index lists it. */
export const IndexEntrySchema = lazySchema(() =>
  z.object({ manifestSha256: sha256(), archiveSha256: sha256(), archiveSize: z.number().int().nonnegative() }).strict(),
);
export type IndexEntry = z.infer<ReturnType<typeof IndexEntrySchema>>;

/** The signed part of `<channel>/index.json`: every bundle version with its manifest hash. */
export const IndexSignedSchema = lazySchema(() =>
  z
    .object({
      type: z.literal('index'),
      channel: z.string().regex(/^[a-z][a-z0-9-]*$/),
      version: z.number().int().min(1),
      expires: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'ISO date'),
      bundles: z.record(z.string(), z.record(z.string(), IndexEntrySchema())),
    })
    .strict(),
);
export type IndexSigned = z.infer<ReturnType<typeof IndexSignedSchema>>;
export const IndexEnvelopeSchema = lazySchema(() => envelopeSchema(IndexSignedSchema()));
export type IndexEnvelope = z.infer<ReturnType<typeof IndexEnvelopeSchema>>;

/** What the client remembers per authority and channel (the highest index version accepted). */
export const IndexStateSchema = lazySchema(() =>
  z.record(z.string(), z.object({ version: z.number().int(), keys: z.string() }).strict()),
);
export type IndexState = z.infer<ReturnType<typeof IndexStateSchema>>;

/** A verified index plus the state update to persist once everything else has passed. */
export interface VerifiedIndex {
  index: IndexSigned;
  authority: Authority;
  keyIds: string[];
  stateKey: string;
  nextState: { version: number; keys: string };
}

/** Parses untrusted index JSON. */
export function parseIndex(value: unknown): IndexEnvelope {
  const r = IndexEnvelopeSchema().safeParse(value, ONCE);
  if (!r.success)
    throw new ShadowboxError(
      ErrorCodes.BundleInvalid,
      'index_invalid',
      `index.json is invalid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return r.data;
}

/**
 * Verifies a channel index against the authorities that may sign it (first match wins), then its
 * expiry against `now` (fixed at the start of the operation) and rollback against `state`. The
 * caller persists `nextState` only after the bundle itself has verified too.
 */
export function verifyIndex(
  env: IndexEnvelope,
  authorities: Authority[],
  state: IndexState,
  now: Date,
  expectedChannel?: string,
): VerifiedIndex {
  const bytes = canonicalBytes(env.signed);
  const errors: ShadowboxError[] = [];
  for (const authority of authorities) {
    let keyIds: string[];
    try {
      keyIds = checkThreshold(
        `index ${env.signed.channel} v${env.signed.version}`,
        authority.index,
        authority.revoked,
        bytes,
        env.signatures,
        'index_tampered',
      );
    } catch (e) {
      if (isShadowboxError(e)) {
        errors.push(e);
        continue;
      }
      throw e;
    }
    const idx = env.signed;
    if (expectedChannel && idx.channel !== expectedChannel)
      throw refuse('mix_and_match', `index is for channel ${idx.channel}, expected ${expectedChannel}`);
    if (Date.parse(idx.expires) <= now.getTime())
      throw refuse('expired', `index ${idx.channel} v${idx.version} expired at ${idx.expires}`, {
        expires: idx.expires,
      });
    const stateKey = `${authority.id}/${idx.channel}`;
    const seen = state[stateKey];
    // Fast-forward recovery: when the index keys rotated, the old high-water mark no longer binds.
    if (seen && seen.keys === authority.indexKeysFingerprint && idx.version < seen.version) {
      throw refuse('rollback', `index ${idx.channel} v${idx.version} is older than v${seen.version} already seen`, {
        version: idx.version,
        seen: seen.version,
      });
    }
    return {
      index: idx,
      authority,
      keyIds,
      stateKey,
      nextState: { version: idx.version, keys: authority.indexKeysFingerprint },
    };
  }
  throw mostSpecific(errors) ?? refuse('unknown_key', 'no authority may sign this index');
}

/** Looks up name@version in a verified index (`not_in_index` when absent). */
export function indexEntry(index: IndexSigned, name: string, version: string): IndexEntry {
  const e = index.bundles[name]?.[version];
  if (!e)
    throw refuse('not_in_index', `${name}@${version} is not listed in the ${index.channel} index`, { name, version });
  return e;
}
