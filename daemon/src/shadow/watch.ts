import { readFileSync } from 'node:fs';
import path from 'node:path';
import { watch as chokidarWatch } from 'chokidar';
import ignore from 'ignore';
import type { Logger } from '../state/index.js';

/**
 * Watches the person's files with chokidar: `.git`, `node_modules`, the root `.gitignore`'s patterns,
 * shadowbox's own temp files and `extraIgnored` prefixes are skipped; changes arrive debounced as
 * sorted workspace-relative paths.
 */
export function watchWorkspace(
  root: string,
  extraIgnored: string[],
  onChange: (paths: string[]) => void,
  logger: Logger,
  debounceMs = 100,
): () => Promise<void> {
  const ig = ignore();
  try {
    ig.add(readFileSync(path.join(root, '.gitignore'), 'utf8'));
  } catch {
    // no .gitignore
  }
  const ignored = (abs: string, stats?: { isDirectory(): boolean }) => {
    const rel = path.relative(root, abs).split(path.sep).join('/');
    if (rel === '' || rel.startsWith('..')) return false;
    const parts = rel.split('/');
    if (parts.includes('.git') || parts.includes('node_modules')) return true;
    if (/\.sbx-[0-9a-f]+\.tmp$/.test(rel)) return true;
    if (extraIgnored.some((p) => p === '' || rel === p || rel.startsWith(p + '/'))) return true;
    try {
      return ig.ignores(stats?.isDirectory() ? `${rel}/` : rel);
    } catch {
      return false;
    }
  };
  const pending = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    const paths = [...pending].sort();
    pending.clear();
    if (paths.length > 0) onChange(paths);
  };
  const watcher = chokidarWatch(root, { ignoreInitial: true, ignored, followSymlinks: false });
  watcher.on('all', (_event, abs) => {
    pending.add(path.relative(root, abs).split(path.sep).join('/'));
    timer ??= setTimeout(flush, debounceMs);
  });
  // A huge tree can exhaust inotify watches (ENOSPC) once per directory: log the first few, then a count.
  let errors = 0;
  watcher.on('error', (e) => {
    errors++;
    if (errors <= 3) logger.warn(`shadow: watcher error on ${root}: ${String(e)}`);
    else if (errors === 4)
      logger.warn(
        `shadow: more watcher errors on ${root}; further ones are not logged (changes to some files may go unnoticed until review)`,
      );
  });
  return async () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    await watcher.close();
  };
}
