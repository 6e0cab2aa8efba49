import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../state/index.js';
import { listenHttp, type HttpServer } from '../transports/index.js';
import { contentSecurityPolicy, registerWebRoutes } from './index.js';

const TOKEN = 'tok_0123456789abcdef';

function get(
  http: HttpServer,
  p: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: http.port, path: p, method, headers: { Host: `127.0.0.1:${http.port}`, ...headers } },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('registerWebRoutes', () => {
  let dir: string;
  let http: HttpServer;
  let empty: HttpServer;
  const logs: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'sbx-web-'));
    const dist = path.join(dir, 'dist');
    await mkdir(path.join(dist, 'assets'), { recursive: true });
    await writeFile(
      path.join(dist, 'index.html'),
      '<!doctype html><script type="module" src="/assets/app-abc.js"></script>',
    );
    await writeFile(path.join(dist, 'assets/app-abc.js'), 'console.log(1)');
    await writeFile(path.join(dist, 'assets/app-abc.css'), 'body{}');
    await writeFile(path.join(dir, 'secret.txt'), 'secret');
    await symlink(path.join(dir, 'secret.txt'), path.join(dist, 'assets/link.js'));
    const logger = {
      ...createLogger({}),
      info: (m: string) => logs.push(m),
      warn: (m: string) => logs.push(m),
      debug: (m: string) => logs.push(m),
    };
    const opts = {
      port: 0,
      token: TOKEN,
      maxBytes: 1 << 20,
      onChannel: () => undefined,
      log: (m: string) => logs.push(m),
    };
    http = await listenHttp(opts);
    registerWebRoutes(http, { distDir: dist, token: TOKEN, logger });
    empty = await listenHttp(opts);
    registerWebRoutes(empty, { distDir: path.join(dir, 'missing'), token: TOKEN, logger });
  });
  afterAll(async () => {
    await http.close();
    await empty.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves index.html with CSP and no-cache, hashed assets as immutable with their content types', async () => {
    const index = await get(http, '/');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toBe(contentSecurityPolicy(`127.0.0.1:${http.port}`));
    expect(index.headers['x-frame-options']).toBe('DENY');
    expect(index.body).toContain('app-abc.js');
    const js = await get(http, '/assets/app-abc.js');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect((await get(http, '/assets/app-abc.css')).headers['content-type']).toBe('text/css; charset=utf-8');
    const head = await get(http, '/index.html', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    expect((await get(http, '/', {}, 'DELETE')).status).toBe(405);
  });

  it('refuses traversal, encoded traversal, NUL, backslashes and symlinks out of the dist folder', async () => {
    for (const p of [
      '/assets/../../secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/..%5c..%5csecret.txt',
      '/assets/a%00.js',
      '/assets/link.js',
      '/assets/%E0%A4%A',
      '/assets/',
    ]) {
      const r = await get(http, p);
      expect(r.status, p).toBe(404);
      expect(r.body).not.toContain('secret');
    }
  });

  it('leaves other paths to later routes and says when the page is not built', async () => {
    expect((await get(http, '/bundles/x')).status).toBe(404);
    expect((await get(http, '/bundles/x')).body).toBe('not found\n');
    const r = await get(empty, '/');
    expect(r.status).toBe(503);
    expect(r.body).toContain('npm run build');
  });

  it('/web/auth: 204 for the right bearer token, 401 otherwise, 403 for a foreign Origin; the token is never logged', async () => {
    expect((await get(http, '/web/auth', { Authorization: `Bearer ${TOKEN}` })).status).toBe(204);
    expect(
      (await get(http, '/web/auth', { Authorization: `Bearer ${TOKEN}`, Origin: `http://127.0.0.1:${http.port}` }))
        .status,
    ).toBe(204);
    expect((await get(http, '/web/auth', { Authorization: 'Bearer nope' })).status).toBe(401);
    expect((await get(http, '/web/auth')).status).toBe(401);
    expect(
      (await get(http, '/web/auth', { Authorization: `Bearer ${TOKEN}`, Origin: 'http://evil.example' })).status,
    ).toBe(403);
    expect((await get(http, '/web/auth?token=x', { Authorization: `Bearer ${TOKEN}` })).headers['cache-control']).toBe(
      'no-store',
    );
    expect(logs.join('\n')).not.toContain(TOKEN);
  });
});
