/**
 * The one file-system interface every tool sees: the session's layered view of a workspace.
 *
 * Paths are workspace-relative POSIX strings ("src/a.ts"); "" or "." is the root. Every
 * implementation resolves a path against the workspace root after realpath and refuses, with a
 * ShadowboxError (PathOutsideWorkspace / PathProtected), `..` that climbs out, absolute paths,
 * symlinks that lead outside, symlink loops, and writes, deletes and moves of protected paths
 * (.git/, shadowbox state, and the workspace's protected globs when the service has them; a
 * directory is refused when something below it is protected). Reads fall through to the real workspace unless the layer changed the file; writes,
 * deletes and moves go to the layer and never touch the person's files.
 */
export interface WorkspaceView {
  /** Real (realpath'd) absolute path of the workspace root. */
  readonly root: string;
  /** Normalize and check a path; returns the canonical relative form ("" for the root). */
  resolve(path: string, intent?: 'read' | 'write'): Promise<string>;
  stat(path: string): Promise<EntryStat | null>;
  readFile(path: string): Promise<Uint8Array>;
  readdir(path: string): Promise<DirEntry[]>;
  writeFile(path: string, data: Uint8Array | string, options?: { mode?: number }): Promise<void>;
  mkdir(path: string): Promise<void>;
  /** Remove a file, or a directory recursively. */
  remove(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /**
   * For a canonical path (from resolve or a listing): true when its content is the person's file as it
   * is on disk — the layer neither holds it nor hides it — so a reader may search the real file
   * directly (grep hands such files to ripgrep). Views without a real tree leave it out.
   */
  isReal?(rel: string): boolean;
  /**
   * A number that moves whenever what isReal answers may have changed (a write, delete, move, undo, accept…),
   * in the same synchronous step as the change: while it has not moved, every isReal answer is what it was.
   * grep reads it before its walk and after each rg run, and asks isReal again only when it moved. Views
   * without isReal leave it out.
   */
  layerVersion?(): number;
  /**
   * For a canonical folder path: the names of the regular files (not links) in the person's real folder
   * at exactly that path, read now without following any link on the way; null when there is no plain
   * real folder there. grep re-checks with it what rg was given (rg opens paths by name). Views without
   * a real tree leave it out.
   */
  realFiles?(dir: string): Set<string> | null;
  /**
   * For a canonical folder path: true when the view lists exactly the person's real folder there — the layer
   * holds no entry in it and nothing above hides it — so what a listing of it gave is the real folder's own
   * (grep may then hand ripgrep the folder instead of its files). Views that leave out some of the person's
   * entries (policy-denied paths) or have no real tree leave it out.
   */
  listsReal?(dir: string): boolean;
  /**
   * For a canonical path: the size of the person's regular file there (lstat: not a link), read now;
   * null when there is none. Not a check of where the file is (realFiles is): grep asks it for the files
   * rg found lines in, as rg reports them (rg searches a listed file whatever its size; grep skips files
   * over 16 MiB). Views without a real tree leave it out.
   */
  realSize?(rel: string): number | null;
  /** Make a symbolic link `path` → `target` (kept as written; reads through it follow it, never outside). */
  symlink(path: string, target: string): Promise<void>;
}

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface EntryStat {
  type: EntryType;
  size: number;
  /** Permission bits, e.g. 0o644. */
  mode: number;
  mtimeMs: number;
}

export interface DirEntry {
  name: string;
  type: EntryType;
}
