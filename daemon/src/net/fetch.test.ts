import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntryInput } from '../audit/index.js';
import { canonicalHost, createNetFetch, matchRule, parseTarget, type HostRule } from './index.js';

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

describe('manifest host rules', () => {
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
    expect(matchRule(parseTarget(url), rules) !== null).toBe(ok);
  });
  it('an address rule covers every spelling of that address, and only it', () => {
    const rule: HostRule[] = [{ host: '127.0.0.1', scheme: 'http', port: 9 }];
    for (const u of ['http://0x7f.0.0.1:9/', 'http://0177.0.0.1:9/', 'http://127.1:9/', 'http://[::ffff:7f00:1]:9/'])
      expect(matchRule(parseTarget(u), rule), u).not.toBeNull();
    expect(matchRule(parseTarget('http://127.0.0.2:9/'), rule)).toBeNull();
    expect(matchRule(parseTarget('http://[::1]:9/'), rule)).toBeNull();
    expect(canonicalHost('[::FFFF:127.0.0.1]')).toMatchObject({ kind: 'address', address: { canonical: '127.0.0.1' } });
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
    ['another address in the allowed range', () => `http://127.0.0.2:${a.port}/`, 'host_not_allowed'],
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
});
