import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { DEFAULT_LIMITS, REDACTED, isSecretKey, sanitizeData, scrubString, sessionEventRecord } from './redact.js';

describe('redaction', () => {
  it('keeps a prompt as digest, length and preview, never its text; other session events as they are', () => {
    const text = `fix the bug ${'x'.repeat(200)}`;
    const r = sessionEventRecord({ text, clientId: 'c1' });
    expect(r).toEqual({
      clientId: 'c1',
      chars: text.length,
      preview: text.slice(0, 80),
      sha256: createHash('sha256').update(text).digest('hex'),
    });
    expect(JSON.stringify(r)).not.toContain('x'.repeat(81));
    const start = { workspace: '/w', model: 'm' };
    expect(sessionEventRecord(start)).toBe(start);
  });

  it('redacts secret-named fields at any depth, keeps counts that merely mention tokens', () => {
    const d = sanitizeData({
      token: 'abc',
      headers: { Authorization: 'Bearer xyz', 'x-api-key': 'k', accept: 'json' },
      provider: { apiKey: 'sk-test', client_secret: { nested: 'v' } },
      usage: { inputTokens: 120, outputTokens: 30 },
      password: 42,
    });
    expect(d).toEqual({
      token: REDACTED,
      headers: { Authorization: REDACTED, 'x-api-key': REDACTED, accept: 'json' },
      provider: { apiKey: REDACTED, client_secret: REDACTED },
      usage: { inputTokens: 120, outputTokens: 30 },
      password: 42,
    });
    for (const k of [
      'token',
      'apiKey',
      'API_KEY',
      'authorization',
      'Proxy-Authorization',
      'accessToken',
      'refresh_token',
      'cookie',
      'Set-Cookie',
      'privateKey',
      'secret',
    ])
      expect(isSecretKey(k), k).toBe(true);
    for (const k of ['tokens', 'inputTokens', 'author', 'keyword', 'path']) expect(isSecretKey(k), k).toBe(false);
  });

  it('scrubs secret-shaped strings wherever they appear', () => {
    expect(scrubString('curl -H "Authorization: Bearer abcdefghijklmnop" x')).toBe(
      `curl -H "Authorization: Bearer ${REDACTED}" x`,
    );
    expect(scrubString('key sk-abcdefghijklmnopqrstuv used')).toBe(`key ${REDACTED} used`);
    expect(scrubString('ghp_0123456789abcdefghijABCDEFGHIJ')).toBe(REDACTED);
    expect(scrubString('https://user:hunter2@example.com/x?q=1&access_token=zzz&page=2')).toBe(
      `https://user:${REDACTED}@example.com/x?q=1&access_token=${REDACTED}&page=2`,
    );
    expect(scrubString('-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----')).toBe(REDACTED);
    expect(scrubString('plain text about tokens')).toBe('plain text about tokens');
  });

  it('caps strings, arrays, depth and total size; keeps only plain JSON', () => {
    const d = sanitizeData({
      s: 'x'.repeat(5000),
      a: Array.from({ length: 300 }, (_, i) => i),
      n: NaN,
      b: 10n,
      f: () => 1,
      u: undefined,
      when: new Date(0),
      buf: Buffer.from('hi'),
    });
    expect((d.s as string).length).toBeLessThan(2100);
    expect(d.s).toMatch(/…\[\+3000 chars\]$/);
    expect((d.a as unknown[]).length).toBe(201);
    expect(d).toMatchObject({ n: 'NaN', b: '10', when: '1970-01-01T00:00:00.000Z', buf: { bytes: 2 } });
    expect('f' in d || 'u' in d).toBe(false);
    let deep: Record<string, unknown> = { v: 1 };
    for (let i = 0; i < 20; i++) deep = { d: deep };
    expect(JSON.stringify(sanitizeData(deep))).toContain('[depth]');
    const cyc: Record<string, unknown> = { a: 1 };
    cyc.self = cyc;
    expect(sanitizeData(cyc)).toEqual({ a: 1, self: '[cycle]' });
    const big = sanitizeData(Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'y'.repeat(1000)])));
    expect(big).toMatchObject({ _truncated: true, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(Buffer.byteLength(JSON.stringify(big))).toBeLessThan(DEFAULT_LIMITS.maxDataBytes);
  });
});
