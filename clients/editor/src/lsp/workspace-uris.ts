import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Maps the daemon's workspace-relative paths to the editor's URIs and back. */
export interface WorkspaceUris {
  /** The workspace root as the editor named it. */
  readonly root: string;
  /** A file URI under the editor's root; null for a path that is not a plain relative file path. */
  uriOf(rel: string): string | null;
  /** The workspace-relative path of a file URI; null when it is not a file under the workspace. */
  relOf(uri: string): string | null;
}

/**
 * Why: the paths come from the daemon's diff, i.e. from what the model wrote, and become the URIs the
 * server edits through workspace/applyEdit; only a normalized relative path below the root maps to a URI,
 * so no hunk can name a buffer outside the workspace. The editor's root and the daemon's real path may
 * differ (a symlinked checkout): URIs are built on the editor's, and both are accepted back.
 */
export function createWorkspaceUris(root: string, realRoot = root): WorkspaceUris {
  const roots = [...new Set([path.resolve(root), path.resolve(realRoot)])];
  return {
    root: roots[0],
    uriOf(rel) {
      if (!rel || rel.includes('\0') || rel.endsWith('/') || path.posix.isAbsolute(rel)) return null;
      const norm = path.posix.normalize(rel);
      if (norm !== rel || norm === '..' || norm.startsWith('../') || norm === '.') return null;
      return pathToFileURL(path.join(roots[0], ...rel.split('/'))).href;
    },
    relOf(uri) {
      let abs: string;
      try {
        if (!uri.startsWith('file:')) return null;
        abs = fileURLToPath(uri);
      } catch {
        return null;
      }
      for (const r of roots) {
        const rel = path.relative(r, abs);
        if (rel && rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
          return rel.split(path.sep).join('/');
      }
      return null;
    },
  };
}
