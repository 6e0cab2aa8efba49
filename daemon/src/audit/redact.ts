import { canonicalJson, sha256Hex } from './canonical.js';

/** Limits on what one entry's data may hold. */
export interface DataLimits {
  /** Canonical JSON size of `data` above which it is replaced by a digest and a preview. Default 16 KiB. */
  maxDataBytes: number;
  /** Longer strings are cut (with a marker naming the original length). Default 2,000. */
  maxStringChars: number;
  /** Longer arrays are cut. Default 200. */
  maxArrayItems: number;
  /** Deeper values become "[depth]". Default 8. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: DataLimits = {
  maxDataBytes: 16 * 1024,
  maxStringChars: 2000,
  maxArrayItems: 200,
  maxDepth: 8,
};

export const REDACTED = '[redacted]';

// Key names (lowercased, without - _ . and spaces) whose values are secrets.
const SECRET_KEY =
  /(?:token|secret|secretkey|password|passwd|passphrase|apikey|authorization|auth|cookie|setcookie|credential|credentials|privatekey|accesskey|sessionkey)$/;

/** Whether a field of this name holds a secret (token, apiKey, Authorization, x-api-key, client_secret, …). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.toLowerCase().replace(/[-_.\s]/g, ''));
}

// Secrets recognisable by shape, wherever they appear in a string.
const SECRET_SHAPES: [RegExp, string][] = [
  [/\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  [/\bsk-[A-Za-z0-9_-]{16,}/g, REDACTED],
  [/\b(?:ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{20,}/g, REDACTED],
  [/\bxox[abposr]-[A-Za-z0-9-]{10,}/g, REDACTED],
  [/\bAKIA[0-9A-Z]{16}\b/g, REDACTED],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)/g, REDACTED],
  // user:password@ in URLs
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@]+):[^@\s/]+@/gi, `$1:${REDACTED}@`],
  // ?token=… &api_key=… &sig=… in URLs
  [/([?&](?:[a-z0-9_-]*(?:token|key|secret|password|sig|signature|auth)[a-z0-9_-]*)=)[^&#\s]+/gi, `$1${REDACTED}`],
];

/** Replaces secret-shaped substrings (bearer tokens, API keys, URL credentials) in a string. */
export function scrubString(s: string): string {
  let out = s;
  for (const [re, rep] of SECRET_SHAPES) out = out.replace(re, rep);
  return out;
}

function cut(s: string, limits: DataLimits): string {
  return s.length <= limits.maxStringChars
    ? s
    : `${s.slice(0, limits.maxStringChars)}…[+${s.length - limits.maxStringChars} chars]`;
}

function clean(v: unknown, limits: DataLimits, depth: number, seen: Set<object>): unknown {
  if (v === null || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return cut(scrubString(v), limits);
  if (typeof v !== 'object') return undefined; // functions, symbols, undefined: dropped
  if (seen.has(v)) return '[cycle]';
  if (depth >= limits.maxDepth) return '[depth]';
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (v instanceof Uint8Array) return { bytes: v.byteLength, sha256: sha256Hex(v) };
  if (v instanceof Error)
    return { error: v.name, ...('code' in v ? { code: clean(v.code, limits, depth + 1, seen) } : {}) };
  seen.add(v);
  try {
    if (Array.isArray(v)) {
      const items = v.slice(0, limits.maxArrayItems).map((x) => clean(x, limits, depth + 1, seen) ?? null);
      if (v.length > limits.maxArrayItems) items.push(`…[+${v.length - limits.maxArrayItems} items]`);
      return items;
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (isSecretKey(k) && (typeof x === 'string' || (typeof x === 'object' && x !== null))) {
        out[k] = REDACTED;
        continue;
      }
      const c = clean(x, limits, depth + 1, seen);
      if (c !== undefined) out[k] = c;
    }
    return out;
  } finally {
    seen.delete(v);
  }
}

/**
 * Makes entry data safe to store: plain JSON only, secret-named fields and secret-shaped strings
 * redacted, long strings and arrays cut, and the whole capped at maxDataBytes (past that it is
 * replaced by `{ _truncated: true, bytes, sha256, preview }`).
 */
export function sanitizeData(
  data: Record<string, unknown>,
  limits: DataLimits = DEFAULT_LIMITS,
): Record<string, unknown> {
  const cleaned = clean(data, limits, 0, new Set());
  const obj =
    cleaned !== null && typeof cleaned === 'object' && !Array.isArray(cleaned)
      ? (cleaned as Record<string, unknown>)
      : { value: cleaned ?? null };
  const text = canonicalJson(obj);
  const bytes = Buffer.byteLength(text);
  if (bytes <= limits.maxDataBytes) return obj;
  return {
    _truncated: true,
    bytes,
    sha256: sha256Hex(text),
    preview: text.slice(0, Math.min(512, limits.maxDataBytes)),
  };
}

/**
 * What the audit log keeps of a session event: a prompt (`text`) is recorded by its digest, length and an 80-character
 * preview, never its text (the preview is scrubbed of token-shaped strings like every string the log keeps).
 */
export function sessionEventRecord(data: Record<string, unknown>): Record<string, unknown> {
  if (typeof data.text !== 'string') return data;
  const { text, ...rest } = data;
  return { ...rest, chars: text.length, preview: text.slice(0, 80), sha256: sha256Hex(text) };
}
