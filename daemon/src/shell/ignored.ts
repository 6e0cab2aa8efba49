import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import ignore, { type Ignore } from 'ignore';
import type { WorkspaceView } from '../shadow/index.js';

const run = promisify(execFile);

/** Build and tool-cache folders treated as ignored wherever they are, whatever .gitignore says. */
export const BUILD_DIRS = ['node_modules', 'dist', 'build', 'target', '__pycache__', '.venv'] as const;
const BUILD = new Set<string>(BUILD_DIRS);

const parentOf = (rel: string) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');

/**
 * Why: `npm install` or `make` write thousands of files nobody reviews; those go to the session's cache
 * layer instead. A path is ignored when a component is one of BUILD_DIRS or when the workspace's ignore
 * rules say so — `.git/info/exclude`, the root's and each folder's `.gitignore` on the way — read
 * through the session's view as they were before the command ran (a command that rewrites `.gitignore`
 * cannot hide its own writes from review). Rules are loaded per folder on first use: O(folders of the
 * changed paths that are not already inside an ignored folder).
 */
export class IgnoreRules {
  private readonly loaded = new Map<string, Promise<Ignore | null>>();

  constructor(private readonly view: WorkspaceView) {}

  private rulesOf(dir: string): Promise<Ignore | null> {
    let p = this.loaded.get(dir);
    if (!p) {
      const read = async (file: string) => Buffer.from(await this.view.readFile(file)).toString('utf8');
      p = (async () => {
        const texts = await Promise.all(
          (dir === '' ? ['.git/info/exclude', '.gitignore'] : [`${dir}/.gitignore`]).map((f) =>
            read(f).catch(() => ''),
          ),
        );
        const text = texts.join('\n');
        return text.trim() === '' ? null : ignore().add(text);
      })();
      this.loaded.set(dir, p);
    }
    return p;
  }

  /** Whether `rel` is ignored (its folders are already known not to be, as a top-down walk guarantees). */
  async ignores(rel: string, isDir: boolean): Promise<boolean> {
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    if (BUILD.has(name)) return true;
    for (let d = parentOf(rel); ; d = parentOf(d)) {
      const m = await this.rulesOf(d);
      if (m) {
        const local = d === '' ? rel : rel.slice(d.length + 1);
        if (m.ignores(isDir ? `${local}/` : local)) return true;
      }
      if (d === '') return false;
    }
  }
}

/**
 * Which of `paths` git tracks (a path, or a folder holding tracked files): such a path is reviewed even
 * where the ignore rules match it — a tracked file under `build/` is a change like any other. One
 * `git ls-files` for the batch; none when the workspace is not a git repository. The person's repository
 * config cannot run anything here (no hooks, no fsmonitor, no global config).
 */
export async function trackedOf(git: string | null, root: string, paths: string[]): Promise<Set<string>> {
  if (!git || paths.length === 0) return new Set();
  const base = ['-c', 'core.fsmonitor=', '-c', 'core.hooksPath=/dev/null', '-C', root];
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', HOME: '/nonexistent' };
  try {
    const prefix = (await run(git, [...base, 'rev-parse', '--show-prefix'], { env })).stdout.trim();
    const out = new Set<string>();
    const asked = new Set(paths);
    for (let i = 0; i < paths.length; i += 2000) {
      const chunk = paths.slice(i, i + 2000);
      const r = await run(
        git,
        [...base, 'ls-files', '-z', '--cached', '--full-name', '--', ...chunk.map((p) => `:(literal)${p}`)],
        {
          env,
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      for (const f of r.stdout.split('\0')) {
        if (!f) continue;
        const rel = prefix && f.startsWith(prefix) ? f.slice(prefix.length) : f;
        // The asked path itself, or an asked folder it lies in.
        for (let a = rel; a !== ''; a = parentOf(a)) if (asked.has(a)) out.add(a);
      }
    }
    return out;
  } catch {
    return new Set(); // not a git repository (or no git): nothing is tracked
  }
}
