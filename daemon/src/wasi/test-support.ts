// Test helpers: build the C fixtures on demand (cached by source hash), a simple overlay view.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { lstat, readdir, readFile, realpath } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ErrorCodes, ShadowboxError } from '../errors.js';
import type { DirEntry, EntryStat, WorkspaceView } from '../shadow/view.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

/** Returns the bytes of fixtures/out/NAME.wasm, building it when its source changed. */
export async function fixture(name: string): Promise<Uint8Array> {
  const hash = createHash('sha256')
    .update(readFileSync(join(FIXTURES, `${name}.c`)))
    .update(readFileSync(join(FIXTURES, 'build.sh')))
    .digest('hex');
  const wasm = join(FIXTURES, 'out', `${name}.wasm`);
  const stamp = join(FIXTURES, 'out', `${name}.hash`);
  if (!existsSync(wasm) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== hash) {
    await execa('sh', [join(FIXTURES, 'build.sh'), name]);
    writeFileSync(stamp, hash);
  }
  return readFileSync(wasm);
}

/**
 * A minimal stand-in for the shadow view: reads fall through to `root` (realpath-checked, so
 * symlinks that leave it are refused), writes land in an in-memory overlay. Used until (and
 * beside) the real shadow view.
 */
export function createOverlayView(root: string): WorkspaceView & { overlay: Map<string, Uint8Array | null> } {
  const overlay = new Map<string, Uint8Array | null>();
  const dirs = new Set<string>();
  const norm = (p: string): string => {
    if (p.startsWith('/')) throw new ShadowboxError(ErrorCodes.PathOutsideWorkspace, 'path_escape', 'absolute path');
    const parts: string[] = [];
    for (const s of p.split('/')) {
      if (s === '' || s === '.') continue;
      if (s === '..') {
        if (parts.pop() === undefined)
          throw new ShadowboxError(ErrorCodes.PathOutsideWorkspace, 'path_escape', 'escapes');
      } else parts.push(s);
    }
    return parts.join('/');
  };
  const real = async (p: string): Promise<string> => {
    const rootReal = await realpath(root);
    const r = await realpath(join(rootReal, p));
    if (r !== rootReal && !r.startsWith(rootReal + sep))
      throw new ShadowboxError(ErrorCodes.PathOutsideWorkspace, 'symlink_outside', 'symlink leaves the workspace');
    return relative(rootReal, r).split(sep).join('/');
  };
  const view: WorkspaceView & { overlay: Map<string, Uint8Array | null> } = {
    overlay,
    root,
    async resolve(p) {
      return real(norm(p));
    },
    async stat(p): Promise<EntryStat | null> {
      const n = norm(p);
      const o = overlay.get(n);
      if (o === null) return null;
      if (o) return { type: 'file', size: o.byteLength, mode: 0o644, mtimeMs: 0 };
      if (dirs.has(n)) return { type: 'dir', size: 0, mode: 0o755, mtimeMs: 0 };
      try {
        const r = await real(n);
        const st = await lstat(join(root, r));
        return {
          type: st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other',
          size: st.size,
          mode: st.mode & 0o777,
          mtimeMs: st.mtimeMs,
        };
      } catch (e) {
        if (e instanceof ShadowboxError) throw e;
        return null;
      }
    },
    async readFile(p) {
      const n = norm(p);
      const o = overlay.get(n);
      if (o) return o;
      if (o === null) throw new ShadowboxError(ErrorCodes.FileNotFound, 'not_found', n);
      return readFile(join(root, await real(n)));
    },
    async readdir(p): Promise<DirEntry[]> {
      const n = norm(p);
      const out = new Map<string, DirEntry>();
      if (!dirs.has(n)) {
        for (const e of await readdir(join(root, await real(n)), { withFileTypes: true })) {
          out.set(e.name, {
            name: e.name,
            type: e.isSymbolicLink() ? 'symlink' : e.isDirectory() ? 'dir' : e.isFile() ? 'file' : 'other',
          });
        }
      }
      for (const [k, v] of overlay) {
        const parent = k.includes('/') ? k.slice(0, k.lastIndexOf('/')) : '';
        const name = k.slice(k.lastIndexOf('/') + 1);
        if (parent !== n) continue;
        if (v === null) out.delete(name);
        else out.set(name, { name, type: 'file' });
      }
      for (const d of dirs) {
        const parent = d.includes('/') ? d.slice(0, d.lastIndexOf('/')) : '';
        if (parent === n)
          out.set(d.slice(d.lastIndexOf('/') + 1), { name: d.slice(d.lastIndexOf('/') + 1), type: 'dir' });
      }
      return [...out.values()];
    },
    async writeFile(p, data) {
      const n = norm(p);
      if (n === '.git' || n.startsWith('.git/'))
        throw new ShadowboxError(ErrorCodes.PathProtected, 'protected_path', n);
      overlay.set(n, typeof data === 'string' ? Buffer.from(data) : data);
    },
    async mkdir(p) {
      dirs.add(norm(p));
    },
    async remove(p) {
      overlay.set(norm(p), null);
    },
    async rename(a, b) {
      const data = await view.readFile(a);
      overlay.set(norm(b), data);
      overlay.set(norm(a), null);
    },
    symlink(p) {
      return Promise.reject(new Error(`this test view cannot make links: ${p}`));
    },
  };
  return view;
}
