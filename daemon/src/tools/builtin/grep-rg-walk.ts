// grep over a folder with rg walking the person's real tree itself (rg on explicit file lists is ~1.5×
// slower than rg walking, and the walk in JavaScript came on top). rg is told to ignore nothing but
// `.git` and the folders .gitignore excludes (it never reads a .gitignore: its rules differ from the
// walk's), never follows a link, and sorts its output by path (one thread, lines streamed in the walk's
// order, so it is stopped once the first files hold the lines wanted). What it finds counts only for a
// file the walk would have handed to rg (grep-scan.ts: listed through the view, not ignored, the
// person's own) that is still a regular file at that path now (WorkspaceView.realFiles); links and the
// layer's files are searched in process, as before. The result is the explicit-list path's, line for line.
import { spawn, type ChildProcess } from 'node:child_process';
import type { GrepPattern } from './grep-pattern.js';
import { parseRgRecord, rgPattern, rgSearchFlags } from './grep-rg.js';
import type { GrepRun, GrepRunOptions } from './grep-run.js';
import { scanForRg, walkOrder, type Scan } from './grep-scan.js';
import { searchInProcess } from './grep-search.js';
import type { GrepWorker } from './grep-worker.js';
import { FileQueue } from './file-queue.js';
import { MAX_TEXT_FILE_BYTES } from './text.js';

/** Lines rg found in the files that count, in rg's (the walk's) order; where it was stopped; its exit code. */
interface RgWalked {
  files: Array<{ path: string; lines: string[] }>;
  found: number;
  /** The last file rg printed a line of. */
  last?: string;
  stoppedAt?: string;
  code: number | null;
  records: number;
}

/**
 * The rg-walks search, or null when it does not apply (no rg or no real tree, a glob, a start that is
 * not its own canonical folder, a pattern rg cannot take, a name that could order or split rg's output
 * differently, rg refusing): the caller then takes the explicit-list path (grep-run.ts).
 */
export async function grepByRgWalk(o: GrepRunOptions, acquire: () => GrepWorker): Promise<GrepRun | null> {
  const { view, stop } = o;
  if (!o.rg || o.type !== 'dir' || o.glob !== undefined || !view.isReal || !view.realFiles) return null;
  const source = rgPattern(o.pattern.source);
  if (source === null) return null;
  if ((await view.resolve(o.base).catch(() => null)) !== o.base) return null;
  // rg starts at once, pruning only .git; its output waits (unread) until the scan says what counts.
  let rg = startRg(o, source, o.pattern, []);
  let scan: Scan | null;
  try {
    scan = await scanForRg(view, o.base, stop);
  } catch (e) {
    rg.child.kill('SIGKILL');
    throw e;
  }
  if (!scan) {
    rg.child.kill('SIGKILL');
    return null;
  }
  if (scan.excludes.length > 0) {
    // Folders .gitignore excludes are not worth rg's reading (node_modules): again, without them.
    rg.child.kill('SIGKILL');
    rg = startRg(o, source, o.pattern, scan.excludes);
  }
  const queue = new FileQueue();
  scan.inProcess.forEach((path, k) => queue.push(k, path));
  queue.close();
  const proc = searchInProcess(view, queue, acquire, o.pattern.literal, o.max, stop);
  const [inProc, walked] = await Promise.all([proc.done, readRg(rg, o, scan)]);
  if (walked.code === 2 && walked.records === 0 && !stop.aborted) return null; // rg refused: the other path decides
  // Both sides' files, merged in the walk's order.
  const byPath: Array<{ path: string; lines: string[] }> = [...walked.files];
  for (const [k, lines] of inProc.lines) byPath.push({ path: scan.inProcess[k], lines });
  byPath.sort((a, b) => walkOrder(a.path, b.path));
  const lines = new Map<number, string[]>();
  byPath.forEach((f, k) => lines.set(k, f.lines));
  // Files rg had searched: all of them, or those up to where it was stopped (the line limit, a cancel).
  const upTo = walked.stoppedAt ?? (stop.aborted ? walked.last : undefined);
  const rgSearched =
    walked.stoppedAt === undefined && !stop.aborted
      ? scan.eligible.size
      : upTo === undefined
        ? 0
        : countUpTo(scan.eligible, upTo);
  return { lines, searched: rgSearched + inProc.searched, inProcess: inProc.searched, total: scan.total };
}

/** A started rg: its output paused until read, and how it ended (listened for from the start: it may end before it is read). */
interface Started {
  child: ChildProcess;
  ended: Promise<number | null>;
}

function startRg(o: GrepRunOptions, source: string, pattern: GrepPattern, excludes: readonly string[]): Started {
  const args = [
    ...rgSearchFlags({ pattern: source, ignoreCase: pattern.ignoreCase, maxFileBytes: MAX_TEXT_FILE_BYTES }, o.max + 1),
    '--no-ignore', // .gitignore is the walk's to apply (grep-scan.ts); rg reads no ignore file at all
    '--hidden',
    '--no-follow',
    '--sort=path',
    '--binary', // binary files as when named explicitly ("binary file matches", never their lines)
    '--glob=!.git',
    ...excludes.map((d) => `--glob=!/${d}`),
    '--',
    o.base === '' ? '.' : o.base,
  ];
  const child = spawn(o.rg!, args, { cwd: o.view.root, stdio: ['ignore', 'pipe', 'ignore'] });
  child.stdout.pause();
  const ended = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  ended.catch(() => undefined); // a run killed for a second one is never read
  return { child, ended };
}

/** Reads rg's sorted output: each file's lines kept when the file counts, rg killed once max + 1 lines are kept. */
async function readRg({ child, ended }: Started, o: GrepRunOptions, scan: Scan): Promise<RgWalked> {
  const out: RgWalked = { files: [], found: 0, code: null, records: 0 };
  const realFiles = new Map<string, Set<string> | null>();
  const counts = (path: string): boolean => {
    if (!scan.eligible.has(path)) return false;
    const slash = path.lastIndexOf('/');
    const dir = slash < 0 ? '' : path.slice(0, slash);
    let names = realFiles.get(dir);
    if (names === undefined) realFiles.set(dir, (names = o.view.realFiles!(dir)));
    return names?.has(path.slice(slash + 1)) ?? false;
  };
  const strip = o.base === '' ? 2 : 0; // rg names files below "." as "./path"
  let current: { path: string; lines: string[] } | undefined;
  const finish = () => {
    if (!current) return;
    if (counts(current.path)) {
      out.files.push(current);
      out.found += current.lines.length;
      if (out.found > o.max) {
        out.stoppedAt = current.path;
        child.kill('SIGKILL'); // the files after this one come later in the walk's order
      }
    }
    current = undefined;
  };
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const take = (record: Buffer) => {
    out.records++;
    if (out.stoppedAt !== undefined) return;
    const parsed = parseRgRecord(record, decoder, o.maxLineChars);
    if (!parsed) return;
    const path = parsed[0].slice(strip);
    out.last = path;
    const line = strip ? parsed[1].slice(strip) : parsed[1];
    if (current?.path !== path) {
      finish();
      if (out.stoppedAt !== undefined) return;
      current = { path, lines: [] };
    }
    current.lines.push(line);
  };
  const kill = () => child.kill('SIGKILL');
  o.stop.addEventListener('abort', kill, { once: true });
  if (o.stop.aborted) kill();
  let rest: Buffer = Buffer.alloc(0);
  child.stdout!.on('data', (d: Buffer) => {
    let buf = rest.length ? Buffer.concat([rest, d]) : d;
    let nl: number;
    while ((nl = buf.indexOf(0x0a)) >= 0) {
      take(buf.subarray(0, nl));
      buf = buf.subarray(nl + 1);
    }
    rest = Buffer.from(buf);
  });
  child.stdout!.resume();
  try {
    out.code = await ended; // 'close': the output is all read
  } finally {
    o.stop.removeEventListener('abort', kill);
  }
  if (rest.length) take(rest);
  finish();
  return out;
}

/** Files of the set at or before `last` in the walk's order (those rg had searched when it was stopped). */
function countUpTo(files: Set<string>, last: string): number {
  let n = 0;
  for (const f of files) if (walkOrder(f, last) <= 0) n++;
  return n;
}
