import { canonicalize, sha256Hex } from '../canonical.js';

/** SHA-256 of the RFC 8785 canonical JSON of a call's input: what the audit log keeps instead of the input. */
export function digestInput(input: unknown): { digest: string; bytes: number } {
  let text: string;
  try {
    text = canonicalize(input) ?? 'null';
  } catch {
    text = String(input);
  }
  return { digest: `sha256:${sha256Hex(text)}`, bytes: Buffer.byteLength(text) };
}
