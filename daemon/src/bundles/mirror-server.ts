import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { resolve, sep } from 'node:path';
import { isSafeRelativePath } from './manifest.js';

const TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.tar': 'application/x-tar',
  '.wasm': 'application/wasm',
};

/** A request handler for a node http server: serves `dir` read-only under `prefix` (default `/bundles/`). */
export type MirrorHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

function send(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
  res.end(text);
}

/**
 * Serves a mirror-shaped folder. Returns false for URLs outside the prefix (the caller handles
 * them); GET/HEAD only; paths must be normalized and relative, and must resolve inside the folder.
 * Nothing it serves needs to be secret: everything a client installs is verified by signature.
 */
export function serveMirror(dir: string, prefix = '/bundles/'): MirrorHandler {
  const root = resolve(dir);
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://mirror.invalid');
    if (!url.pathname.startsWith(prefix)) return false;
    void (async () => {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed');
      let rel: string;
      try {
        rel = decodeURIComponent(url.pathname.slice(prefix.length));
      } catch {
        return send(res, 400, 'bad path');
      }
      if (!isSafeRelativePath(rel)) return send(res, 404, 'not found');
      const realRoot = await realpath(root).catch(() => root);
      const real = await realpath(resolve(root, rel)).catch(() => null);
      if (!real || !real.startsWith(realRoot + sep)) return send(res, 404, 'not found');
      const st = await stat(real).catch(() => null);
      if (!st?.isFile()) return send(res, 404, 'not found');
      const ext = rel.slice(rel.lastIndexOf('.'));
      res.writeHead(200, {
        'content-type': TYPES[ext] ?? 'application/octet-stream',
        'content-length': String(st.size),
        'cache-control': rel.endsWith('index.json') ? 'no-cache' : 'public, max-age=300',
        'x-content-type-options': 'nosniff',
      });
      if (req.method === 'HEAD') return res.end();
      createReadStream(real)
        .on('error', () => res.destroy())
        .pipe(res);
    })().catch(() => {
      if (!res.headersSent) send(res, 500, 'error');
      else res.destroy();
    });
    return true;
  };
}
