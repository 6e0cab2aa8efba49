// Path resolution in the guest's own tree: `.`/`..`, trailing slashes and symlinks (up to 40), all
// without ever touching the host. `..` never climbs above the directory the lookup started from
// (WASI capability rule: a directory fd grants its subtree), except from a preopen, whose boundary
// is the sandbox root. Absolute symlink targets are refused, as in wasmtime.
import { E, MAX_SYMLINKS } from './defs.js';
import type { DirNode, Node } from './memfs.js';

/** Result of a lookup: the directory holding the last component, its name, and the node (if any). */
export interface Lookup {
  dir: DirNode;
  /** Last component ('.' when the path names `dir` itself). */
  name: string;
  node: Node | undefined;
  /** The path (or the last symlink it went through) ended with '/'. */
  slash: boolean;
}

/** Where a lookup starts and what it may reach. */
export interface LookupBase {
  start: DirNode;
  /** `..` at this directory is refused (PERM). */
  boundary: DirNode;
  /** The sandbox root. */
  root: DirNode;
}

/** Resolves `path` from `base`; `follow` follows a symlink in the last component. Returns a Lookup or an errno. */
export function lookup(base: LookupBase, path: string, follow: boolean): Lookup | number {
  if (path.length === 0) return E.NOENT;
  if (path.includes('\0')) return E.INVAL;
  if (path.startsWith('/')) return E.PERM;
  let slash = path.endsWith('/');
  const pending = path.split('/').filter((c) => c !== '');
  let cur = base.start;
  let links = 0;
  if (pending.length === 0) return E.PERM;
  while (pending.length > 0) {
    const c = pending.shift()!;
    const last = pending.length === 0;
    if (c === '.' || c === '..') {
      if (c === '..') {
        if (cur === base.boundary || cur.parent === null) return E.PERM;
        cur = cur.parent;
      }
      if (last) return { dir: cur, name: '.', node: cur, slash };
      continue;
    }
    const entries = cur.entries;
    if (cur.gone) return E.NOENT;
    const node = entries.get(c);
    if (node?.kind === 'symlink' && (!last || follow || slash)) {
      if (++links > MAX_SYMLINKS) return E.LOOP;
      const t = node.target;
      if (t.length === 0) return E.NOENT;
      // Absolute targets cannot be created (path_symlink refuses them); one from elsewhere is refused too.
      if (t.startsWith('/')) return E.PERM;
      if (last) slash = slash || t.endsWith('/');
      const parts = t.split('/').filter((x) => x !== '');
      if (parts.length === 0) parts.push('.');
      pending.unshift(...parts);
      continue;
    }
    if (last) return { dir: cur, name: c, node, slash };
    if (!node) return E.NOENT;
    if (node.kind !== 'dir') return E.NOTDIR;
    cur = node;
  }
  return { dir: cur, name: '.', node: cur, slash };
}
