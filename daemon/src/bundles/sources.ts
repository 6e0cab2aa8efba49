import { readFile, realpath, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';

/** Where bundles come from: a mirror-shaped folder (local build output) or an HTTP mirror. */
export interface MirrorSource {
  /** Human-readable origin recorded in the store and the audit log. */
  label: string;
  /** True only for the configured local build output folder. */
  isLocalOutput: boolean;
  /** Reads one file of the mirror layout, at most `maxBytes`; null when absent. */
  get(path: string, maxBytes: number): Promise<Buffer | null>;
}

function tooLarge(path: string, maxBytes: number): ShadowboxError {
  return new ShadowboxError(
    ErrorCodes.BundleVerificationFailed,
    'too_large',
    `${path} is larger than the ${maxBytes}-byte cap`,
    { path, maxBytes },
  );
}

/** A mirror-shaped folder on disk; refuses paths that resolve outside it. */
export function dirSource(dir: string, isLocalOutput: boolean): MirrorSource {
  const root = resolve(dir);
  return {
    label: isLocalOutput ? 'local' : root,
    isLocalOutput,
    async get(path, maxBytes) {
      const full = resolve(root, path);
      if (!full.startsWith(root + sep)) return null;
      const real = await realpath(full).catch(() => null);
      const realRoot = await realpath(root).catch(() => root);
      if (!real || !real.startsWith(realRoot + sep)) return null;
      const st = await stat(real);
      if (!st.isFile()) return null;
      if (st.size > maxBytes) throw tooLarge(path, maxBytes);
      return readFile(real);
    },
  };
}

/** An HTTP(S) mirror (another daemon's /bundles/ or a static server); downloads are capped while streaming. */
export function httpSource(base: string, fetchImpl: typeof fetch = fetch, timeoutMs = 60_000): MirrorSource {
  const url = new URL(base.endsWith('/') ? base : `${base}/`);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ShadowboxError(ErrorCodes.InvalidParams, 'mirror_invalid', `mirror must be http(s) or a folder: ${base}`);
  if (url.username || url.password)
    throw new ShadowboxError(ErrorCodes.InvalidParams, 'mirror_invalid', 'mirror URL must not carry credentials');
  return {
    label: url.href,
    isLocalOutput: false,
    async get(path, maxBytes) {
      const res = await fetchImpl(new URL(path, url), { redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
      if (res.status === 404) return null;
      if (!res.ok || !res.body)
        throw new ShadowboxError(
          ErrorCodes.BundleNotFound,
          'mirror_error',
          `mirror answered ${res.status} for ${path}`,
          { status: res.status, path },
        );
      const declared = Number(res.headers.get('content-length') ?? '0');
      if (declared > maxBytes) throw tooLarge(path, maxBytes);
      const chunks: Buffer[] = [];
      let total = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        total += chunk.length;
        if (total > maxBytes) throw tooLarge(path, maxBytes);
        chunks.push(Buffer.from(chunk));
      }
      return Buffer.concat(chunks);
    },
  };
}

/** Picks a source for a `--mirror` value: an http(s) URL or a folder path. */
export function sourceFor(mirror: string, localOutputDir: string, fetchImpl?: typeof fetch): MirrorSource {
  if (/^https?:\/\//i.test(mirror)) return httpSource(mirror, fetchImpl);
  const dir = mirror.startsWith('file://') ? new URL(mirror).pathname : mirror;
  return dirSource(dir, resolve(dir) === resolve(localOutputDir));
}

/** Joins mirror layout path segments. */
export function mirrorPath(...parts: string[]): string {
  return join(...parts)
    .split(sep)
    .join('/');
}
