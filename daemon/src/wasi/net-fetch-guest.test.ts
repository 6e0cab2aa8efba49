// A WASI guest's `shadowbox.net_fetch` import through the runtime's bridge to the net capability's
// service: synchronous replies, the wall limit while blocked, typed refusals in the reply head.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { AuditEntryInput } from '../audit/index.js';
import { createNetFetch, type HostRule } from '../net/index.js';
import { createWasiRuntime } from './index.js';
import { fixture } from './test-support.js';

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

describe('netFetch from a WASI guest (shadowbox.net_fetch)', () => {
  const audit: AuditEntryInput[] = [];
  const service = createNetFetch({ audit: { append: async (e) => void audit.push(e) }, maxBytes: 1 << 20 });
  const runtime = createWasiRuntime({ poolSize: 1, netFetch: service });
  let server: Server;
  let other: Server;
  let port = 0;
  let otherPort = 0;
  let mod: Uint8Array;
  beforeAll(async () => {
    mod = await fixture('fetch');
    server = createServer((req, res) => {
      if (req.url === '/big') return res.end(Buffer.alloc(2 << 20, 0x61));
      if (req.url === '/to-metadata')
        return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      if (req.url === '/hang') return; // never answers
      res.end('hello 1');
    });
    other = createServer((_req, res) => res.end('other'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    otherPort = (other.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await runtime.close();
    for (const s of [server, other]) {
      s.closeAllConnections();
      s.close();
    }
  });
  const LIMITS = { wallMs: 5000, memoryBytes: 16 << 20, stdoutBytes: 4 << 20, stderrBytes: 1 << 20 };
  const rules = (): HostRule[] => [{ host: '127.0.0.1', scheme: 'http', port }];
  const guest = (url: string, allowed: boolean, cap?: number) =>
    runtime.run({
      module: { bytes: mod },
      mounts: {},
      argv: ['fetch', url, ...(cap ? [String(cap)] : [])],
      limits: LIMITS,
      netFetch: { allowed, rules: rules() },
    });
  const head = (out: string): unknown => JSON.parse(out.split('\n')[1] ?? 'null');

  it('gets the response synchronously', async () => {
    const r = await guest(`http://127.0.0.1:${port}/x`, true);
    expect(r.exitCode).toBe(0);
    const out = text(r.stdout);
    expect(head(out)).toMatchObject({ status: 200, bodyBytes: 7 });
    expect(out.endsWith('hello 1')).toBe(true);
  });

  it('is stopped at the wall limit while blocked in net_fetch', async () => {
    // The limit must run out while the guest waits in net_fetch, not while it is still starting (on a loaded
    // machine that can take longer than a short limit): a run whose request never reached the server is
    // repeated with a longer limit. Outcomes are asserted, never how long anything took.
    let hangs = 0;
    server.on('request', (req) => req.url === '/hang' && hangs++);
    let wallMs = 300;
    for (;;) {
      const before = hangs;
      const r = await runtime.run({
        module: { bytes: mod },
        mounts: {},
        argv: ['fetch', `http://127.0.0.1:${port}/hang`],
        limits: { ...LIMITS, wallMs },
        netFetch: { allowed: true, rules: rules() },
      });
      expect(r.outcome).toBe('timeout');
      if (hangs > before) break;
      wallMs *= 4;
      if (wallMs > 20_000) throw new Error('the guest never reached net_fetch');
    }
    const after = await guest(`http://127.0.0.1:${port}/x`, true);
    expect(after.exitCode).toBe(0);
    // The daemon-side request was aborted when the run ended, not left to its own deadline (its audit
    // entry is written once the abort has gone through the HTTP client: wait for it, not for a time).
    await vi.waitFor(
      () =>
        expect(audit.some((e) => e.data.refused === 'cancelled' && String(e.data.url).endsWith('/hang'))).toBe(true),
      { timeout: 25_000 }, // vi.waitFor gives up after 1 s by default: too short a wait on a loaded machine
    );
  });

  it('gets typed refusals: not granted, not allowlisted, private address via redirect, too large for its buffer', async () => {
    expect(head(text((await guest(`http://127.0.0.1:${port}/x`, false)).stdout))).toMatchObject({
      error: 'net_fetch_not_allowed',
    });
    expect(head(text((await guest(`http://127.0.0.1:${otherPort}/x`, true)).stdout))).toMatchObject({
      error: 'host_not_allowed',
    });
    expect(head(text((await guest(`http://127.0.0.1:${port}/to-metadata`, true)).stdout))).toMatchObject({
      error: 'host_not_allowed',
    });
    expect(head(text((await guest(`http://127.0.0.1:${port}/big`, true, 1 << 21)).stdout))).toMatchObject({
      error: 'response_too_large',
    });
  });
});
