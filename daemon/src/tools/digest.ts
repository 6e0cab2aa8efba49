import { createHash } from 'node:crypto';
import canonicalizeModule from 'canonicalize';

// canonicalize is CommonJS whose types declare an ES default export; take whichever shape arrives.
const canonicalize = ((canonicalizeModule as unknown as { default?: unknown }).default ?? canonicalizeModule) as (
  input: unknown,
) => string | undefined;

/**
 * SHA-256 of the RFC 8785 canonical JSON of a call's input: what the audit log keeps instead of the input.
 * An input that has no canonical form (nested past the stack, a cycle) has no digest: `digest: null` and
 * the reason, and the runtime refuses the call (audit is write-ahead: what cannot be recorded does not run).
 */
export function digestInput(input: unknown): { digest: string; bytes: number } | { digest: null; error: string } {
  let text: string;
  try {
    text = canonicalize(input) ?? 'null';
  } catch (e) {
    return { digest: null, error: e instanceof RangeError ? 'too_deep' : 'not_json' };
  }
  return { digest: `sha256:${createHash('sha256').update(text).digest('hex')}`, bytes: Buffer.byteLength(text) };
}
