import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntryInput } from '../audit/sink.js';
import { createNetFetch, createWasiRuntime, matchRule, type HostRule } from './index.js';
import { addressAllowed } from './host-rules.js';
import { fixture } from './test-support.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(handler: Handler): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

const get = (url: string, headers: [string, string][] = []) => ({ url, method: 'GET', headers, body: null });
const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

describe('host rules', () => {
  const rules: HostRule[] = [{ host: 'example.com' }, { host: '*.api.test', scheme: 'http', port: 8080 }];
  it.each([
    ['https://EXAMPLE.com./x', true],
    ['https://example.com:443/', true],
    ['http://example.com/', false],
    ['https://example.com:8443/', false],
    ['https://evilexample.com/', false],
    ['https://example.com.evil.net/', false],
    ['http://v1.api.test:8080/', true],
    ['http://api.test:8080/', false],
    ['http://v1.api.test/', false],
  ])('%s → %s', (url, ok) => {
    expect(matchRule(new URL(url), rules) !== null).toBe(ok);
  });
  it('refuses non-public addresses unless the rule names the address', () => {
    const byName: HostRule = { host: 'x.test' };
    for (const a of [
      '127.0.0.1',
      '10.0.0.1',
      '192.168.1.1',
      '172.16.0.1',
      '100.64.0.1',
      '169.254.169.254',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:8.8.8.8',
      '0.0.0.0',
    ]) {
      expect(addressAllowed(a, byName)).toBe(false);
    }
    expect(addressAllowed('8.8.8.8', byName)).toBe(true);
    expect(addressAllowed('127.0.0.1', { host: '127.0.0.1' })).toBe(true);
    // Hex and octal spellings are normalized by URL parsing before matching.
    expect(matchRule(new URL('http://0x7f.0.0.1:9/'), [{ host: '127.0.0.1', scheme: 'http', port: 9 }])).not.toBeNull();
    expect(matchRule(new URL('http://0177.0.0.1:9/'), [{ host: '127.0.0.1', scheme: 'http', port: 9 }])).not.toBeNull();
  });
});

describe('netFetch service', () => {
  let a: Awaited<ReturnType<typeof serve>>;
  let b: Awaited<ReturnType<typeof serve>>;
  const audit: AuditEntryInput[] = [];
  const dns: Record<string, string[]> = { 'internal.test': ['127.0.0.1'], 'rebind.test': ['8.8.8.8', '127.0.0.1'] };
  const service = createNetFetch({
    audit: { append: async (e) => void audit.push(e) },
    resolve: async (h) => dns[h] ?? [],
    maxBytes: 1 << 20,
  });
  beforeAll(async () => {
    b = await serve((req, res) => res.end(JSON.stringify({ path: req.url, auth: req.headers.authorization ?? null })));
    a = await serve((req, res) => {
      if (req.url === '/big') return res.end(Buffer.alloc(2 << 20, 0x61));
      if (req.url === '/to-internal') return res.writeHead(302, { location: `http://internal.test:${b.port}/x` }).end();
      if (req.url === '/to-metadata')
        return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      if (req.url === '/to-b') return res.writeHead(307, { location: `http://127.0.0.1:${b.port}/from-a` }).end();
      if (req.url === '/hang') return; // never answers
      if (req.url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
      res.end(`hello ${String(req.headers['x-probe'] ?? '')}`);
    });
  });
  afterAll(() => {
    a.server.closeAllConnections();
    b.server.closeAllConnections();
    a.server.close();
    b.server.close();
  });
  const ruleA = (): HostRule => ({ host: '127.0.0.1', scheme: 'http', port: a.port });
  const ruleB = (): HostRule => ({ host: '127.0.0.1', scheme: 'http', port: b.port });

  it('fetches from an explicitly allowed address and audits it', async () => {
    const r = await service.fetch(get(`http://127.0.0.1:${a.port}/hi?token=s3cret`, [['x-probe', 'yes']]), {
      rules: [ruleA()],
      sessionId: 's1',
      workspace: '/w',
    });
    expect(r.status).toBe(200);
    expect(text(r.body)).toBe('hello yes');
    const last = audit.at(-1);
    expect(last).toMatchObject({
      type: 'net.fetch',
      sessionId: 's1',
      data: { status: 200, url: `http://127.0.0.1:${a.port}/hi` },
    });
    expect(JSON.stringify(last)).not.toContain('s3cret');
  });

  it.each([
    ['not allowlisted', () => `http://127.0.0.1:${b.port}/`, 'host_not_allowed'],
    ['https by default', () => `http://127.0.0.1:${a.port}/`, 'host_not_allowed'],
    ['user@host', () => `http://user@127.0.0.1:${a.port}/`, 'userinfo_refused'],
    ['name resolving to a private IP', () => `http://internal.test:${a.port}/`, 'address_not_allowed'],
    ['DNS answer mixing public and private', () => `http://rebind.test:${a.port}/`, 'address_not_allowed'],
    ['IPv4-mapped IPv6 literal', () => `http://[::ffff:127.0.0.1]:${a.port}/`, 'host_not_allowed'],
    ['file scheme', () => 'file:///etc/passwd', 'scheme_not_allowed'],
  ])('refuses %s', async (_name, url, reason) => {
    const rules: HostRule[] =
      _name === 'https by default'
        ? [{ host: '127.0.0.1', port: a.port }]
        : [
            ruleA(),
            { host: 'internal.test', scheme: 'http', port: a.port },
            { host: 'rebind.test', scheme: 'http', port: a.port },
          ];
    await expect(service.fetch(get(url()), { rules })).rejects.toMatchObject({ data: { reason } });
    expect(audit.at(-1)?.data.refused).toBe(reason);
  });

  it('re-checks every redirect hop (private IP, metadata IP) and never contacts the target', async () => {
    const rules = [ruleA(), { host: 'internal.test', scheme: 'http' as const, port: b.port }];
    const before = b.hits.length;
    await expect(service.fetch(get(`http://127.0.0.1:${a.port}/to-internal`), { rules })).rejects.toMatchObject({
      data: { reason: 'address_not_allowed' },
    });
    await expect(service.fetch(get(`http://127.0.0.1:${a.port}/to-metadata`), { rules })).rejects.toMatchObject({
      data: { reason: 'host_not_allowed' },
    });
    expect(b.hits.length).toBe(before);
    await expect(service.fetch(get(`http://127.0.0.1:${a.port}/loop`), { rules })).rejects.toMatchObject({
      data: { reason: 'too_many_redirects' },
    });
  });

  it('follows allowed redirects and drops credentials across origins', async () => {
    const r = await service.fetch(get(`http://127.0.0.1:${a.port}/to-b`, [['Authorization', 'Bearer x']]), {
      rules: [ruleA(), ruleB()],
    });
    expect(JSON.parse(text(r.body))).toEqual({ path: '/from-a', auth: null });
    expect(r.url).toBe(`http://127.0.0.1:${b.port}/from-a`);
  });

  it('caps the response size', async () => {
    await expect(service.fetch(get(`http://127.0.0.1:${a.port}/big`), { rules: [ruleA()] })).rejects.toMatchObject({
      data: { reason: 'response_too_large' },
    });
  });

  describe('from a WASI guest (shadowbox.net_fetch)', () => {
    const runtime = createWasiRuntime({ poolSize: 1, netFetch: service });
    let mod: Uint8Array;
    beforeAll(async () => {
      mod = await fixture('fetch');
    });
    afterAll(() => runtime.close());
    const LIMITS = { wallMs: 5000, memoryBytes: 16 << 20, stdoutBytes: 4 << 20, stderrBytes: 1 << 20 };
    const guest = (url: string, allowed: boolean, cap?: number) =>
      runtime.run({
        module: { bytes: mod },
        mounts: {},
        argv: ['fetch', url, ...(cap ? [String(cap)] : [])],
        limits: LIMITS,
        netFetch: { allowed, rules: [ruleA()] },
      });
    const head = (out: string): unknown => JSON.parse(out.split('\n')[1] ?? 'null');

    it('gets the response synchronously', async () => {
      const r = await guest(`http://127.0.0.1:${a.port}/x`, true);
      expect(r.exitCode).toBe(0);
      const out = text(r.stdout);
      expect(head(out)).toMatchObject({ status: 200, bodyBytes: 7 });
      expect(out.endsWith('hello 1')).toBe(true);
    });
    it('is stopped at the wall limit while blocked in net_fetch', async () => {
      // The limit must run out while the guest waits in net_fetch, not while it is still starting (on a
      // loaded machine that can take longer than a short limit): a run whose request never reached the
      // server is repeated with a longer limit. Outcomes are asserted, never how long anything took.
      const hangs = () => a.hits.filter((h) => h === 'GET /hang').length;
      let wallMs = 300;
      for (;;) {
        const before = hangs();
        const r = await runtime.run({
          module: { bytes: mod },
          mounts: {},
          argv: ['fetch', `http://127.0.0.1:${a.port}/hang`],
          limits: { ...LIMITS, wallMs },
          netFetch: { allowed: true, rules: [ruleA()] },
        });
        expect(r.outcome).toBe('timeout');
        if (hangs() > before) break;
        wallMs *= 4;
        if (wallMs > 20_000) throw new Error('the guest never reached net_fetch');
      }
      const after = await guest(`http://127.0.0.1:${a.port}/x`, true);
      expect(after.exitCode).toBe(0);
      // The daemon-side request was aborted when the run ended, not left to its own deadline (its audit
      // entry is written once the abort has gone through: awaited, not assumed).
      await expect
        .poll(() => audit.some((e) => e.data.refused === 'cancelled' && String(e.data.url).endsWith('/hang')))
        .toBe(true);
    });
    it('gets typed refusals: not granted, not allowlisted, private address via redirect, too large for its buffer', async () => {
      expect(head(text((await guest(`http://127.0.0.1:${a.port}/x`, false)).stdout))).toMatchObject({
        error: 'net_fetch_not_allowed',
      });
      expect(head(text((await guest(`http://127.0.0.1:${b.port}/x`, true)).stdout))).toMatchObject({
        error: 'host_not_allowed',
      });
      expect(head(text((await guest(`http://127.0.0.1:${a.port}/to-metadata`, true)).stdout))).toMatchObject({
        error: 'host_not_allowed',
      });
      expect(head(text((await guest(`http://127.0.0.1:${a.port}/big`, true, 1 << 21)).stdout))).toMatchObject({
        error: 'response_too_large',
      });
    });
  });
});
