import { canonicalize, sha256Hex } from '../canonical.js';

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
  return { digest: `sha256:${sha256Hex(text)}`, bytes: Buffer.byteLength(text) };
}
