import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';

// canonicalize is CommonJS whose types declare an ES default export; take whichever shape arrives.
const canonicalizeFn = ((canonicalizeModule as unknown as { default?: unknown }).default ?? canonicalizeModule) as (
  input: unknown,
) => string | undefined;

/**
 * RFC 8785 canonical JSON text of a value (what audit hashes, tool-input digests and bundle signatures
 * cover), or undefined when the value has no JSON form. Throws on cycles and on values too deep to walk.
 */
export function canonicalize(value: unknown): string | undefined {
  return canonicalizeFn(value);
}

/** Hex SHA-256: the one digest of the daemon (files, manifests, archives, audit entries). */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}
