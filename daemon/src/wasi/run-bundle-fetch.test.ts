// A bundle's netFetch allowlist is not enough on its own: every guest fetch also asks the person's
// policy (fetchPolicy), for every URL's host and resolved address, redirect hops included.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FetchPolicyFor } from '../net/index.js';
import { createRunBundleTool, createWasiRuntime, type BundleForRun, type RunBundleDeps } from './index.js';
import { sha256Hex } from './module-cache.js';
import { createOverlayView, fixture } from './test-support.js';

async function serve(host: string, hits: string[]): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    hits.push(`${host} ${req.url ?? ''}`);
    if (req.url?.startsWith('/to/')) return res.writeHead(302, { location: `http://${req.url.slice(4)}/moved` }).end();
    res.end(`hello from ${host}`);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('run_bundle netFetch asks the policy', () => {
  const runtime = createWasiRuntime({ poolSize: 1 });
  const hits: string[] = [];
  const asked: { tool: string; sessionId?: string; host: string; port: number; address?: string }[] = [];
  // The fake policy: a rule names 127.0.0.1 (for any port here); anything else is denied by a named rule.
  const fetchPolicy: FetchPolicyFor = (tool, sessionId) => async (q) => {
    asked.push({
      tool,
      ...(sessionId ? { sessionId } : {}),
      host: q.host,
      port: q.port,
      ...(q.address ? { address: q.address.canonical } : {}),
    });
    return q.host === '127.0.0.1'
      ? { action: 'allow', rule: 'project:allow host=127.0.0.1', exact: true }
      : { action: 'deny', rule: 'default: ask for fetch' };
  };
  let a: { server: Server; port: number };
  let b: { server: Server; port: number };
  let c: { server: Server; port: number };
  let dir: string;
  let bundle: BundleForRun;

  beforeAll(async () => {
    a = await serve('127.0.0.1', hits);
    b = await serve('127.0.0.2', hits);
    c = await serve('127.0.0.1', hits);
    dir = await mkdtemp(join(tmpdir(), 'sbx-wasi-fetch-'));
    const mod = await fixture('fetch');
    bundle = {
      name: 'fetcher',
      version: '1.0.0',
      entry: { name: 'fetch', bytes: mod, sha256: sha256Hex(mod) },
      files: async () => new Map(),
      mounts: [],
      limits: { memoryMb: 32, timeoutMs: 5000, maxOutputBytes: 1 << 20 },
      // c's port is not in the manifest: the policy allowing 127.0.0.1 does not make it reachable.
      netFetch: { allow: [`http://127.0.0.1:${a.port}`, `http://127.0.0.2:${b.port}`] },
    };
  });
  afterAll(async () => {
    await runtime.close();
    for (const s of [a, b, c]) {
      s.server.closeAllConnections();
      s.server.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  const fetchVia = async (deps: RunBundleDeps, url: string) => {
    const tool = createRunBundleTool(deps);
    const r = await tool.handler(tool.input.parse({ bundle: 'fetcher', args: [url] }), {
      sessionId: 's1',
      workspace: dir,
      view: createOverlayView(dir),
      signal: new AbortController().signal,
    });
    const [, head = 'null', ...body] = r.content.split('\n');
    return { head: JSON.parse(head) as Record<string, unknown>, body: body.join('\n') };
  };
  const withPolicy = (): RunBundleDeps => ({ runtime, loadBundle: async () => bundle, fetchPolicy });

  it('fetches when the manifest and the policy both allow, and tells the policy who asks', async () => {
    asked.length = 0;
    const r = await fetchVia(withPolicy(), `http://127.0.0.1:${a.port}/x?q=1`);
    expect(r.head).toMatchObject({ status: 200 });
    expect(r.body).toBe('hello from 127.0.0.1');
    // Asked as the bundle, in the session: the host, then the address it is (exactly named, so reachable).
    expect(asked).toEqual([
      { tool: 'fetcher', sessionId: 's1', host: '127.0.0.1', port: a.port },
      { tool: 'fetcher', sessionId: 's1', host: '127.0.0.1', port: a.port, address: '127.0.0.1' },
    ]);
  });

  it('refuses a host the manifest allows but the policy does not, before connecting', async () => {
    const before = hits.length;
    const r = await fetchVia(withPolicy(), `http://127.0.0.2:${b.port}/x`);
    expect(r.head).toMatchObject({ error: 'policy_denied', rule: 'default: ask for fetch' });
    expect(String(r.head.message)).toContain('127.0.0.2');
    expect(hits.length).toBe(before);
  });

  it('asks the policy again for a redirect hop, and never reaches a denied target', async () => {
    asked.length = 0;
    const before = hits.filter((h) => h.startsWith('127.0.0.2')).length;
    const r = await fetchVia(withPolicy(), `http://127.0.0.1:${a.port}/to/127.0.0.2:${b.port}`);
    expect(r.head).toMatchObject({ error: 'policy_denied' });
    expect(asked.map((q) => q.host)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.2']);
    expect(hits.filter((h) => h.startsWith('127.0.0.2')).length).toBe(before);
  });

  it('refuses what the manifest does not list without asking the policy', async () => {
    asked.length = 0;
    const r = await fetchVia(withPolicy(), `http://127.0.0.1:${c.port}/x`);
    expect(r.head).toMatchObject({ error: 'host_not_allowed' });
    expect(asked).toEqual([]);
  });

  it('without a policy the manifest alone decides (an address it names exactly)', async () => {
    const r = await fetchVia({ runtime, loadBundle: async () => bundle }, `http://127.0.0.2:${b.port}/x`);
    expect(r.head).toMatchObject({ status: 200 });
    expect(r.body).toBe('hello from 127.0.0.2');
  });
});
