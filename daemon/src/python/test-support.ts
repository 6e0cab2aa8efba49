// Test and bench helpers: locate a built python bundle, and a small layered WorkspaceView over a
// real folder (reads fall through, writes stay in memory) standing in for the shadow layer.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import { identityOf, type FileIdentity } from '../file-identity.js';
import type { DirEntry, EntryStat, WorkspaceView } from '../shadow/view.js';
import type { PythonBundleFiles } from './types.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The newest python bundle built by `node bundles/scripts/build.mjs python` (or null). */
export function findBuiltPythonBundle(): string | null {
  const base = join(REPO, 'bundles', '.cache', 'builds', 'python');
  if (!existsSync(base)) return null;
  const dirs = readdirSync(base)
    .map((d) => join(base, d, 'files'))
    .filter((d) => existsSync(join(d, 'python.wasm')) && existsSync(join(d, 'lib', 'python311.zip')))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  if (!dirs[0] && process.env.SHADOWBOX_REQUIRE_BUNDLES)
    throw new Error(
      'SHADOWBOX_REQUIRE_BUNDLES is set but no python bundle is built: run `node bundles/scripts/build.mjs python`',
    );
  return dirs[0] ?? null;
}

/**
 * Loads a bundle files folder for createPython({ loadBundle }): python.wasm hashed, and every file under lib/ with
 * its identity now (a built folder has no signed manifest to list them; the store's is checked by bundles.locate).
 */
export async function loadBundleDir(filesDir: string): Promise<PythonBundleFiles> {
  const path = join(filesDir, 'python.wasm');
  const bytes = await readFile(path);
  return {
    filesDir,
    module: { path, sha256: createHash('sha256').update(bytes).digest('hex'), size: bytes.length },
    lib: await libIdentities(filesDir),
  };
}

/** Every file under `filesDir`/lib with its identity now, as a check of the bundle would give them. */
export async function libIdentities(filesDir: string): Promise<Map<string, FileIdentity>> {
  const lib = new Map<string, FileIdentity>();
  for (const e of await readdir(join(filesDir, 'lib'), { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const abs = join(e.parentPath ?? e.path, e.name);
    lib.set(relative(filesDir, abs), identityOf(await stat(abs, { bigint: true })));
  }
  return lib;
}

/** A WorkspaceView over `root` whose writes land in `layer` (path -> bytes, null = deleted). */
export class MemoryLayerView implements WorkspaceView {
  readonly layer = new Map<string, Uint8Array | null>();
  constructor(readonly root: string) {}

  async resolve(p: string): Promise<string> {
    const norm = p.split('/').filter((c) => c && c !== '.');
    if (p.startsWith('/') || norm.includes('..'))
      throw new ShadowboxError(ErrorCodes.PathOutsideWorkspace, 'path_escape', `outside: ${p}`);
    const rel = norm.join('/');
    if (rel) {
      const real = await realpath(join(this.root, rel)).catch(() => null);
      const rootReal = await realpath(this.root);
      if (real && real !== rootReal && !real.startsWith(`${rootReal}/`))
        throw new ShadowboxError(ErrorCodes.PathOutsideWorkspace, 'symlink_outside', `outside: ${p}`);
    }
    return rel;
  }
  async stat(p: string): Promise<EntryStat | null> {
    const rel = await this.resolve(p);
    const l = this.layer.get(rel);
    if (l === null) return null;
    if (l) return { type: 'file', size: l.byteLength, mode: 0o644, mtimeMs: 0 };
    const st = await lstat(join(this.root, rel)).catch(() => null);
    if (!st) return null;
    const s = st.isSymbolicLink() ? await import('node:fs/promises').then((f) => f.stat(join(this.root, rel))) : st;
    return {
      type: s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other',
      size: s.size,
      mode: s.mode & 0o777,
      mtimeMs: s.mtimeMs,
    };
  }
  async readFile(p: string): Promise<Uint8Array> {
    const rel = await this.resolve(p);
    const l = this.layer.get(rel);
    if (l === null) throw new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', p);
    return l ?? readFile(join(this.root, rel));
  }
  async readdir(p: string): Promise<DirEntry[]> {
    const rel = await this.resolve(p);
    const out = new Map<string, DirEntry>();
    for (const e of await readdir(join(this.root, rel), { withFileTypes: true }).catch(() => [])) {
      out.set(e.name, {
        name: e.name,
        type: e.isSymbolicLink() ? 'symlink' : e.isDirectory() ? 'dir' : e.isFile() ? 'file' : 'other',
      });
    }
    for (const [k, v] of this.layer) {
      const parent = k.includes('/') ? k.slice(0, k.lastIndexOf('/')) : '';
      const name = k.slice(k.lastIndexOf('/') + 1);
      if (parent !== rel) continue;
      if (v === null) out.delete(name);
      else out.set(name, { name, type: 'file' });
    }
    return [...out.values()];
  }
  async writeFile(p: string, data: Uint8Array | string): Promise<void> {
    this.layer.set(await this.resolve(p), typeof data === 'string' ? Buffer.from(data) : data);
  }
  async mkdir(): Promise<void> {}
  async remove(p: string): Promise<void> {
    this.layer.set(await this.resolve(p), null);
  }
  async rename(from: string, to: string): Promise<void> {
    const data = await this.readFile(from);
    await this.writeFile(to, data);
    await this.remove(from);
  }
  symlink(p: string): Promise<void> {
    return Promise.reject(new Error(`MemoryLayerView cannot make links: ${p}`));
  }
}
