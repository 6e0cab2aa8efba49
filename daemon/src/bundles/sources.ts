import { constants } from 'node:fs';
import { type FileHandle, open, realpath } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { fileChunks } from '../state/index.js';

/** Where bundles come from: a mirror-shaped folder (local build output) or an HTTP mirror. */
export interface MirrorSource {
  /** Human-readable origin recorded in the store and the audit log. */
  label: string;
  /** True only for the configured local build output folder. */
  isLocalOutput: boolean;
  /** Reads one file of the mirror layout, at most `maxBytes`; null when absent. */
  get(path: string, maxBytes: number): Promise<Buffer | null>;
  /**
   * The same file as it streams in (a bundle archive: never whole in memory), refused once it passes `maxBytes`;
   * null when absent. A chunk may be a view of a reused buffer: use it before asking for the next.
   */
  stream(path: string, maxBytes: number): Promise<AsyncIterable<Buffer> | null>;
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
  // The file opened (no link followed at the last step) and checked through its descriptor: what is read is what
  // was found inside the folder and under the cap.
  async function openInside(path: string, maxBytes: number): Promise<{ fh: FileHandle; size: number } | null> {
    const full = resolve(root, path);
    if (!full.startsWith(root + sep)) return null;
    const real = await realpath(full).catch(() => null);
    const realRoot = await realpath(root).catch(() => root);
    if (!real || !real.startsWith(realRoot + sep)) return null;
    const fh = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => null);
    if (!fh) return null;
    const st = await fh.stat().catch(() => null);
    if (st?.isFile() && st.size <= maxBytes) return { fh, size: st.size };
    await fh.close();
    if (st?.isFile()) throw tooLarge(path, maxBytes);
    return null;
  }
  return {
    label: isLocalOutput ? 'local' : root,
    isLocalOutput,
    async get(path, maxBytes) {
      const f = await openInside(path, maxBytes);
      if (!f) return null;
      try {
        // At most the size checked (a file that grows meanwhile is not read past the cap).
        const parts: Buffer[] = [];
        for await (const chunk of fileChunks(f.fh, f.size)) parts.push(Buffer.from(chunk));
        return Buffer.concat(parts);
      } finally {
        await f.fh.close();
      }
    },
    async stream(path, maxBytes) {
      // Looked at now (absent: null), opened again when the first chunk is asked for, so that a stream never read
      // holds no descriptor; the file is checked again then.
      const found = await openInside(path, maxBytes);
      if (!found) return null;
      await found.fh.close();
      return (async function* () {
        const f = await openInside(path, maxBytes);
        if (!f)
          throw new ShadowboxError(ErrorCodes.BundleNotFound, 'artifact_missing', `${path} is gone from ${root}`, {
            path,
          });
        try {
          yield* fileChunks(f.fh, f.size); // at most the size checked, as get reads
        } finally {
          await f.fh.close();
        }
      })();
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
  async function body(path: string, maxBytes: number): Promise<AsyncIterable<Buffer> | null> {
    const res = await fetchImpl(new URL(path, url), { redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
    if (res.status === 404) return null;
    if (!res.ok || !res.body)
      throw new ShadowboxError(ErrorCodes.BundleNotFound, 'mirror_error', `mirror answered ${res.status} for ${path}`, {
        status: res.status,
        path,
      });
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > maxBytes) throw tooLarge(path, maxBytes);
    const chunks = res.body as unknown as AsyncIterable<Uint8Array>;
    return (async function* () {
      let total = 0;
      for await (const chunk of chunks) {
        total += chunk.length;
        if (total > maxBytes) throw tooLarge(path, maxBytes);
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    })();
  }
  return {
    label: url.href,
    isLocalOutput: false,
    async get(path, maxBytes) {
      const chunks = await body(path, maxBytes);
      if (!chunks) return null;
      const all: Buffer[] = [];
      for await (const chunk of chunks) all.push(chunk);
      return Buffer.concat(all);
    },
    stream: body,
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
