import { readdir } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';

/** Entries walked at most while looking for denied paths (a deny glob over a huge tree is paid for once per run). */
const MAX_WALK = 200_000;

/**
 * Why: the file tools refuse a path a deny rule keeps from the call, and so must a command — but it sees
 * the workspace through the kernel, not the view. So the matching paths become whiteouts in the run's
 * layer: absent for the command. A literal rule (`secrets/key.pem`) costs nothing; a glob walks the real
 * tree below its literal base (`secrets/**` → `secrets`; `**\/.env` → the whole workspace, `.git` skipped),
 * never through a link, and a matching folder is hidden whole. Case-insensitive, dotfiles included, as the
 * policy matches.
 */
export async function deniedPathsIn(workspace: string, denied: readonly { glob: string }[]): Promise<string[]> {
  const out = new Set<string>();
  let walked = 0;
  for (const { glob } of denied) {
    const scan = picomatch.scan(glob);
    if (!scan.isGlob) {
      out.add(glob.replace(/^\.\/+/, '').replace(/\/+$/, ''));
      continue;
    }
    const test = picomatch(glob, { dot: true, nocase: true });
    const base = scan.base.replace(/^\.\/?/, '');
    const walk = async (rel: string): Promise<void> => {
      if (walked > MAX_WALK) return;
      const list = await readdir(path.join(workspace, rel), { withFileTypes: true }).catch(() => []);
      for (const e of list) {
        walked++;
        const c = rel === '' ? e.name : `${rel}/${e.name}`;
        if (c === '.git') continue;
        if (test(c) || (e.isDirectory() && test(`${c}/`))) out.add(c);
        else if (e.isDirectory()) await walk(c);
      }
    };
    await walk(base);
  }
  return [...out].filter((p) => p !== '' && !p.startsWith('..'));
}
