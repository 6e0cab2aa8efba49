import { posix } from 'node:path';
import { isShadowboxError } from '../errors.js';
import type { WorkspaceView } from '../shadow/index.js';

/** The lexical canonical form of a workspace-relative path ("./a/../b/" → "b", "." → ""). */
export function normalizePath(p: string): string {
  const n = posix.normalize(p === '' ? '.' : p).replace(/\/+$/, '');
  return n === '.' ? '' : n.replace(/^(\.\/)+/, '');
}

/** Canonical form of one path through the view; a path that does not exist yet keeps its lexical form. */
export async function canonicalPath(view: WorkspaceView, p: string, intent: 'read' | 'write'): Promise<string> {
  try {
    return await view.resolve(p, intent);
  } catch (e) {
    if (isShadowboxError(e)) throw e;
    return normalizePath(p);
  }
}

/** Canonical workspace-relative paths through the view (realpath, escape and protection checks). */
export async function canonicalPaths(view: WorkspaceView, raw: string[], intent: 'read' | 'write'): Promise<string[]> {
  const out: string[] = [];
  for (const p of raw) {
    out.push(await canonicalPath(view, p, intent));
  }
  return out;
}
