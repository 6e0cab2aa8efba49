// Issue 14 §2, reproduced: in auto mode, sandboxed code reached a loopback server through `127.1`,
// `0x7f000001`, `[::ffff:127.0.0.1]` and friends, and the metadata address through its IPv6 forms even
// with deny rules. Every spelling below (and a redirect to each) must be refused before any connection:
// the real server counts its connections and the service reports every connection it opens.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicy, type PolicyService } from '../policy/index.js';
import { silentLogger } from '../state/index.js';
import { createFetchPolicy, createGuestFetch, createNetFetch, type CheckedTarget } from './index.js';

/** Hosts that are loopback, unspecified or this machine, in every notation (`P` = the counting server's port). */
const LOOPBACK = [
  '127.0.0.1',
  '127.1',
  '127.0.1',
  '0x7f000001',
  '0x7f.0.0.1',
  '0x7F.0x0.0x0.0x1',
  '0177.0.0.1',
  '017700000001',
  '2130706433',
  '127.000.000.001',
  '127.0.0.1.',
  '127.255.255.254',
  '%31%32%37.0.0.1',
  '①②⑦.0.0.1',
  '0',
  '0.0.0.0',
  '0x0',
  '000.000.000.000',
  'localhost',
  'LOCALHOST.',
  '[::1]',
  '[0:0:0:0:0:0:0:1]',
  '[::]',
  '[0::0]',
  '[::ffff:127.0.0.1]',
  '[::FFFF:7f00:1]',
  '[0:0:0:0:0:ffff:7f00:1]',
  '[::ffff:0:127.0.0.1]',
  '[::127.0.0.1]',
  '[64:ff9b::7f00:1]',
  '[64:ff9b::127.0.0.1]',
  '[2002:7f00:1::1]',
  '[::ffff:0.0.0.0]',
];

/** The cloud metadata address, in every notation. */
const METADATA = [
  '169.254.169.254',
  '0xa9fea9fe',
  '2852039166',
  '0251.0376.0251.0376',
  '169.254.43518',
  '0xa9.0xfe.0xa9.0xfe',
  '[::ffff:169.254.169.254]',
  '[::ffff:a9fe:a9fe]',
  '[64:ff9b::a9fe:a9fe]',
  '[64:ff9b::169.254.169.254]',
  '[2002:a9fe:a9fe::1]',
  '[2001:0:a9fe:a9fe::1]',
];

/** Private, shared, link-local, multicast, broadcast and reserved ranges. */
const PRIVATE = [
  '10.0.0.1',
  '012.0.0.1',
  '10.255.255.255',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.0.1',
  '0xc0a80001',
  '100.64.0.1',
  '100.127.255.254',
  '169.254.1.1',
  '192.0.0.1',
  '198.18.0.1',
  '240.0.0.1',
  '224.0.0.1',
  '239.255.255.250',
  '255.255.255.255',
  '[fd00::1]',
  '[fc00::1]',
  '[fe80::1]',
  '[febf::1]',
  '[ff02::1]',
  '[2001:db8::1]',
  '[100::1]',
  '[::ffff:10.0.0.1]',
  '[::ffff:192.168.1.1]',
  '[64:ff9b:1::a00:1]',
];

/** Names whose DNS answers are non-public (the system resolver for localhost, a test resolver for the rest). */
const DNS: Record<string, string[]> = {
  'metadata.test': ['169.254.169.254'],
  'mapped.test': ['::ffff:127.0.0.1'],
  'rebind.test': ['93.184.215.14', '127.0.0.1'],
  'nat64.test': ['64:ff9b::a9fe:a9fe'],
};

const SPELLINGS = [...LOOPBACK, ...METADATA, ...PRIVATE, ...Object.keys(DNS)];

describe('netFetch refuses every non-public address however it is written (auto mode)', () => {
  let dir: string;
  let policy: PolicyService;
  let target: Server;
  let redirector: Server;
  let P = 0;
  let R = 0;
  let accepted = 0;
  const connects: CheckedTarget[] = [];
  const workspace = '/work/spellings';
  const service = createNetFetch({
    resolve: async (h) => {
      const fixed = DNS[h];
      if (fixed) return fixed;
      const { systemResolve } = await import('./index.js');
      return systemResolve(h);
    },
    onConnect: (t) => connects.push(t),
    timeoutMs: 5000,
  });
  const fetchAs = (url: string) =>
    createGuestFetch({
      service,
      policy: createFetchPolicy({
        decide: (q) => policy.decide(q),
        session: () => ({ workspace, mode: 'auto' }),
      }),
      session: () => ({ workspace, mode: 'auto' }),
    })('python')({ url, method: 'GET', headers: [], body: null }, { sessionId: 's1' });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sbx-spell-'));
    policy = createPolicy({ stateDir: dir, audit: { append: async () => undefined }, logger: silentLogger });
    // Dual-stack on every loopback spelling: 127.0.0.1, ::1, ::ffff:127.0.0.1 and 0.0.0.0 all land here.
    target = createServer((_q, s) => s.end('reached'));
    target.on('connection', () => accepted++);
    await new Promise<void>((r) => target.listen({ port: 0, host: '::', ipv6Only: false }, r));
    P = (target.address() as AddressInfo).port;
    redirector = createServer((q, s) => {
      const to = new URL(q.url ?? '/', 'http://x').searchParams.get('to') ?? '';
      // A Location header is ASCII: a spelling with other characters travels percent-encoded.
      s.writeHead(302, { location: /[^\x20-\x7e]/.test(to) ? encodeURI(to) : to }).end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.1', r));
    R = (redirector.address() as AddressInfo).port;
    // The redirector is reachable: a rule names its address and port exactly.
    await policy.set({ workspace, add: [{ action: 'allow', host: '127.0.0.1', port: R }], remove: [] }, 'test');
  });
  afterAll(async () => {
    for (const s of [target, redirector]) {
      s.closeAllConnections();
      s.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('the table is at least 60 spellings', () => {
    expect(SPELLINGS.length).toBeGreaterThanOrEqual(60);
  });

  it.each(SPELLINGS)('refuses http://%s:P/ before connecting', async (host) => {
    const before = { accepted, connects: connects.length };
    const err = await fetchAs(`http://${host}:${P}/`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ data: { reason: 'address_not_allowed' } });
    expect(connects.length).toBe(before.connects);
    expect(accepted).toBe(before.accepted);
  });

  it.each(SPELLINGS)('refuses a redirect to http://%s:P/ before connecting to it', async (host) => {
    const before = { accepted, connects: connects.length };
    const to = encodeURIComponent(`http://${host}:${P}/`);
    const err = await fetchAs(`http://127.0.0.1:${R}/go?to=${to}`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ data: { reason: 'address_not_allowed' } });
    // Only the redirector was connected to.
    expect(connects.slice(before.connects).map((t) => `${t.address.address}:${t.port}`)).toEqual([`127.0.0.1:${R}`]);
    expect(accepted).toBe(before.accepted);
  });

  it('a rule naming 127.0.0.1 and the port reaches it in every spelling of that one address (the harness can see a connect)', async () => {
    await policy.set({ workspace, add: [{ action: 'allow', host: '127.0.0.1', port: P }], remove: [] }, 'test');
    try {
      for (const host of ['127.0.0.1', '127.1', '0x7f000001', '[::ffff:127.0.0.1]']) {
        const before = accepted;
        const r = await fetchAs(`http://${host}:${P}/`);
        expect(Buffer.from(r.body).toString(), host).toBe('reached');
        expect(accepted, host).toBe(before + 1);
      }
      // Other loopback addresses stay refused: the rule names one address, not a range.
      for (const host of ['127.0.0.2', '[::1]', '0.0.0.0', '[64:ff9b::7f00:1]'])
        await expect(fetchAs(`http://${host}:${P}/`), host).rejects.toMatchObject({
          data: { reason: 'address_not_allowed' },
        });
      // And the same address at another port needs its own rule.
      await expect(fetchAs(`http://127.0.0.1:${P === 65535 ? 1 : P + 1}/`)).rejects.toMatchObject({
        data: { reason: 'address_not_allowed' },
      });
    } finally {
      const rules = (await policy.list(workspace)).rules.filter((r) => r.port === P).map((r) => r.id ?? '');
      await policy.set({ workspace, add: [], remove: rules }, 'test');
    }
  });

  it('deny rules match canonical forms: a deny for 127.0.0.1 and 169.254.169.254 covers every spelling', async () => {
    await policy.set(
      {
        workspace,
        add: [
          // The allow would reach 127.0.0.1:P; the deny must win over it in every spelling.
          { action: 'allow', host: '127.0.0.1', port: P },
          { action: 'deny', host: '127.0.0.1' },
          { action: 'deny', host: 'localhost' },
          { action: 'deny', host: '169.254.169.254' },
        ],
        remove: [],
      },
      'test',
    );
    try {
      const denied = [
        '127.0.0.1',
        '127.1',
        '0x7f000001',
        '[::ffff:127.0.0.1]',
        '[0:0:0:0:0:ffff:7f00:1]',
        'mapped.test',
        'localhost',
        ...METADATA,
        'metadata.test',
        'nat64.test',
      ];
      for (const host of denied) {
        const before = { accepted, connects: connects.length };
        await expect(fetchAs(`http://${host}:${P}/`), host).rejects.toMatchObject({
          data: { reason: 'policy_denied' },
        });
        expect(connects.length, host).toBe(before.connects);
        expect(accepted, host).toBe(before.accepted);
      }
    } finally {
      const ids = (await policy.list(workspace)).rules.filter((r) => r.port !== R).map((r) => r.id ?? '');
      await policy.set({ workspace, add: [], remove: ids }, 'test');
    }
  });
});
