// python → shadowbox.fetch / urllib → the net capability's guest fetch → a real local HTTP server,
// with a policy whose rule names the server's address and port (what a loopback address needs).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGuestFetch, createNetFetch, type FetchPolicyFor } from '../net/index.js';
import { createPython, type Python } from './index.js';
import { findBuiltPythonBundle, loadBundleDir, MemoryLayerView } from './test-support.js';

const bundleDir = findBuiltPythonBundle();

describe.skipIf(!bundleDir)('python netFetch over real HTTP', () => {
  let server: http.Server;
  let base: string;
  let py: Python;
  const bodies: string[] = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        bodies.push(`${req.method} ${req.url} ${body}`);
        if (req.url === '/missing') res.statusCode = 404;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ method: req.method, url: req.url, len: body.length }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const port = (server.address() as AddressInfo).port;
    // The fake policy: an allow rule naming 127.0.0.1 and the server's port; everything else asks (refused).
    const policy: FetchPolicyFor = () => async (q) =>
      q.host === '127.0.0.1' && q.port === port
        ? { action: 'allow', rule: `project:allow host=127.0.0.1 port=${port}`, exact: true }
        : { action: 'ask', rule: 'mode:review kind:fetch' };
    const guest = createGuestFetch({
      service: createNetFetch(),
      policy,
      session: () => ({ workspace: tmpdir(), mode: 'review' }),
    });
    py = createPython({ loadBundle: () => loadBundleDir(bundleDir as string), netFetch: guest('python') });
  });
  afterAll(async () => {
    await py?.close();
    await new Promise((r) => server.close(r));
  });

  it('GET and POST reach the server; HTTP errors and refusals surface as Python exceptions', async () => {
    const r = await py.run(
      {
        code: [
          'import json, shadowbox, urllib.request, urllib.error',
          `B = ${JSON.stringify(base)}`,
          'print(shadowbox.fetch(B + "/a?x=1").json())',
          'req = urllib.request.Request(B + "/post", data=b"hello", method="POST")',
          'print(json.loads(urllib.request.urlopen(req).read()))',
          'try:\n    urllib.request.urlopen(B + "/missing")\nexcept urllib.error.HTTPError as e:\n    print("http", e.code)',
          'try:\n    shadowbox.fetch("http://127.0.0.1:1/")\nexcept shadowbox.FetchError as e:\n    print("refused", e.reason)',
        ].join('\n'),
      },
      { view: new MemoryLayerView(tmpdir()), sessionId: 's1' },
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(
      [
        "{'method': 'GET', 'url': '/a?x=1', 'len': 0}",
        "{'method': 'POST', 'url': '/post', 'len': 5}",
        'http 404',
        'refused policy_denied',
        '',
      ].join('\n'),
    );
    expect(bodies).toEqual(['GET /a?x=1 ', 'POST /post hello', 'GET /missing ']);
  });
});
