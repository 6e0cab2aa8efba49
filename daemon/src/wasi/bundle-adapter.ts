import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type LoadedBundle } from '../bundles/index.js';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { sha256Hex } from './module-cache.js';
import type { BundleEntryForRun, BundleForRun } from './run-bundle-tool.js';

/**
 * Adapts a verified LoadedBundle to what runs need. Payload files (minus entry modules) are read
 * once per manifest hash (store entries are content-addressed, so immutable), each re-hashed
 * against the manifest as it is read; callers keep the returned adapter's cache alive.
 */
export function createBundleAdapter(): (b: LoadedBundle) => BundleForRun {
  const filesCache = new Map<string, Promise<Map<string, Uint8Array>>>();
  const readFiles = async (b: LoadedBundle): Promise<Map<string, Uint8Array>> => {
    const entryPaths = new Set(b.manifest.entries.map((e) => e.path));
    const out = new Map<string, Uint8Array>();
    for (const f of b.files) {
      if (entryPaths.has(f.path)) continue;
      const data = await readFile(join(b.filesDir, f.path));
      if (data.byteLength !== f.size || sha256Hex(data) !== f.sha256) {
        throw new ShadowboxError(
          ErrorCodes.BundleVerificationFailed,
          'file_mismatch',
          `bundle ${b.name}: ${f.path} changed after verification`,
          { path: f.path },
        );
      }
      out.set(f.path, data);
    }
    return out;
  };
  const entryOf = (b: LoadedBundle, e: { name: string; bytes: Uint8Array; sha256: string }): BundleEntryForRun => {
    const env = b.manifest.entries.find((x) => x.name === e.name)?.env;
    return { name: e.name, bytes: e.bytes, sha256: e.sha256, ...(env ? { env } : {}) };
  };
  return (b) => ({
    name: b.name,
    version: b.version,
    entry: entryOf(b, b.entry),
    readEntry: async (name) => entryOf(b, await b.readEntry(name)),
    files: () => {
      let p = filesCache.get(b.manifestSha256);
      if (!p) {
        p = readFiles(b);
        filesCache.set(b.manifestSha256, p);
        p.catch(() => filesCache.delete(b.manifestSha256));
      }
      return p;
    },
    mounts: b.capabilities.fs,
    limits: { memoryMb: b.limits.memoryMb, timeoutMs: b.limits.timeoutMs, maxOutputBytes: b.limits.maxOutputBytes },
    netFetch: b.capabilities.netFetch,
  });
}
