// The error catalog: every code has a meaning, every reason is stable snake_case with a meaning, and the
// codes outside JSON-RPC's reserved range stay inside shadowbox's own.
import { describe, expect, it } from 'vitest';
import { ErrorCodeDocs, ErrorReasons, type ErrorCodeName } from './error-reasons.js';
import { ErrorCodes, isShadowboxErrorCode } from './errors.js';

const names = Object.keys(ErrorCodes).filter((n) => !n.startsWith('shadowboxRange')) as ErrorCodeName[];

describe('error catalog', () => {
  it('documents every code and only codes that exist', () => {
    expect(Object.keys(ErrorCodeDocs).sort()).toEqual([...names].sort());
    expect(Object.keys(ErrorReasons).sort()).toEqual([...names].sort());
  });

  it('gives every reason a snake_case name and a sentence', () => {
    for (const name of names)
      for (const [reason, doc] of Object.entries(ErrorReasons[name] as Record<string, string>)) {
        expect(reason, name).toMatch(/^[a-z][a-z0-9]*(_[a-z0-9]+)*$/);
        expect(doc.length, `${name}.${reason}`).toBeGreaterThan(8);
      }
  });

  it('keeps shadowbox codes in their own range, one number per code', () => {
    const codes = names.map((n) => ErrorCodes[n]);
    expect(new Set(codes).size).toBe(codes.length);
    // JSON-RPC's reserved range, LSP's RequestCancelled (-32800), or shadowbox's own range.
    for (const code of codes)
      expect(isShadowboxErrorCode(code) || (code >= -32768 && code <= -32000) || code === -32800, String(code)).toBe(
        true,
      );
  });
});
