import { type FSWatcher, lstatSync, watch } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../state/index.js';

/** What review needs watched in one workspace: the person's versions of the paths the shadow changed. */
export interface PathsWatcher {
  /** Makes the watched paths exactly these (workspace-relative); folders no longer needed are let go. */
  set(paths: Iterable<string>): void;
  /** The folders watched now, workspace-relative ('' = the root), sorted (tests and benchmarks). */
  folders(): string[];
  close(): void;
}

interface Folder {
  watcher: FSWatcher;
  /** Entry name in this folder → the changed paths it stands for (the path itself, or a path below a folder not yet created). */
  names: Map<string, Set<string>>;
}

/**
 * Watches only what can make a review item stale: one non-recursive `fs.watch` per folder holding a
 * path the shadow changed — for a path whose folders do not exist yet, the deepest one that does, for
 * the name that would create it. Never the whole tree: a checkpoint in a 100,000-file repository
 * watches a handful of folders (chokidar walked and stat'ed every file on the daemon's thread for 11 s).
 * Changes arrive debounced as the sorted changed paths they touch; folders are re-anchored after each
 * batch (a folder the person created, or removed, moves the watch).
 */
export function watchPaths(
  root: string,
  onChange: (paths: string[]) => void,
  logger: Logger,
  debounceMs = 100,
): PathsWatcher {
  const folders = new Map<string, Folder>();
  let wanted: string[] = [];
  let closed = false;
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let errors = 0;

  const flush = () => {
    timer = undefined;
    const paths = [...pending].sort();
    pending.clear();
    if (closed) return;
    apply(wanted); // a created or removed folder moves where the paths are watched from
    if (paths.length > 0) onChange(paths);
  };
  const report = (paths: Iterable<string>) => {
    for (const p of paths) pending.add(p);
    timer ??= setTimeout(flush, debounceMs);
  };

  /** The deepest existing real folder on the way to `rel` (links are not folders here), and the next name. */
  const anchor = (rel: string, isDir: (folder: string) => boolean): [string, string] => {
    const parts = rel.split('/');
    let folder = '';
    for (let i = 0; i < parts.length - 1; i++) {
      const next = folder ? `${folder}/${parts[i]}` : parts[i];
      if (!isDir(next)) return [folder, parts[i]];
      folder = next;
    }
    return [folder, parts[parts.length - 1]];
  };

  const open = (rel: string): Folder | null => {
    try {
      const f: Folder = { watcher: watch(path.join(root, rel), { persistent: false }), names: new Map() };
      f.watcher.on('change', (_event, filename) => {
        const name = typeof filename === 'string' ? filename : null;
        const hit = name !== null ? f.names.get(name) : undefined;
        // No name (some platforms), or an event on the folder itself: everything it stands for.
        if (hit) report(hit);
        else if (name === null || !isRealDir(path.join(root, rel))) for (const s of f.names.values()) report(s);
      });
      f.watcher.on('error', (e) => {
        // The folder went away (or the platform gave up on it): what it watched for counts as changed.
        errors++;
        if (errors <= 3) logger.debug(`shadow: watcher of ${rel || '.'} in ${root}: ${String(e)}`);
        for (const s of f.names.values()) report(s);
        f.watcher.close();
        folders.delete(rel);
      });
      return f;
    } catch (e) {
      errors++;
      if (errors <= 3)
        logger.warn(`shadow: cannot watch ${rel || '.'} in ${root} (changes there show at review): ${String(e)}`);
      return null;
    }
  };

  const apply = (paths: string[]) => {
    const known = new Map<string, boolean>();
    const isDir = (folder: string) => {
      let d = known.get(folder);
      if (d === undefined) known.set(folder, (d = isRealDir(path.join(root, folder))));
      return d;
    };
    const want = new Map<string, Map<string, Set<string>>>();
    for (const p of paths) {
      if (!p) continue;
      const [folder, name] = anchor(p, isDir);
      let names = want.get(folder);
      if (!names) want.set(folder, (names = new Map<string, Set<string>>()));
      let set = names.get(name);
      if (!set) names.set(name, (set = new Set<string>()));
      set.add(p);
    }
    for (const [rel, f] of folders)
      if (!want.has(rel)) {
        f.watcher.close();
        folders.delete(rel);
      }
    for (const [rel, names] of want) {
      const f = folders.get(rel) ?? open(rel);
      if (!f) continue;
      folders.set(rel, f);
      f.names = names;
    }
  };

  return {
    set(paths) {
      if (closed) return;
      wanted = [...new Set(paths)];
      apply(wanted);
    },
    folders: () => [...folders.keys()].sort(),
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      for (const f of folders.values()) f.watcher.close();
      folders.clear();
    },
  };
}

function isRealDir(abs: string): boolean {
  try {
    return lstatSync(abs).isDirectory();
  } catch {
    return false;
  }
}
