// grep over a folder with rg walking the person's real tree itself: rg given explicit file lists is
// 1.2–1.9× slower than rg walking (docs/benchmarks.md#grep). rg reads no ignore file (its rules differ
// from the walk's: nested `!`, .ignore, global excludes), skips only `.git`, the start's ignored entries
// and the ignored folders the last complete walk found (checked again by this walk), never follows a
// link, and sorts its output by path: one thread, files in the walk's order, so it is stopped once the
// first files hold the lines wanted. Beside it, grep's own walk
// (walk.ts, through the view) runs as before and is the authority: a file rg reports counts only when
// the walk handed it to rg too (listed by the view, not ignored, a regular file the view vouches is the
// person's own: WorkspaceView.isReal) and it is still a regular file at that path, reached through no
// link (WorkspaceView.realFiles) once rg is done with it; links and the layer's files are searched in
// process, as before. So the lines are the explicit-list path's (grep-run.ts), in the same order.
import { spawn, type ChildProcess } from 'node:child_process';
import { parseRgRecord, rgPattern, rgSearchFlags } from './grep-rg.js';
import type { GrepRun, GrepRunOptions } from './grep-run.js';
import { forget, MAX_IGNORED, ODD_NAME, PLAIN_PATH, recall, remember, rgParts, walkOrder } from './grep-scan.js';
import { searchInProcess } from './grep-search.js';
import type { GrepWorker } from './grep-worker.js';
import { FileQueue } from './file-queue.js';
import { MAX_TEXT_FILE_BYTES } from './text.js';
import { walk } from './walk.js';

/**
 * Entries the walk passes before the second rg starts (if the first has not stopped by then, or the walk
 * reached its half): a pattern common near the start never pays a second spawn.
 */
const SECOND_AFTER = 2048;

/**
 * Trees at least this big (files the last walk of the same folder found) are searched by two rg
 * processes: below it the second spawn (a fork of the daemon, ~7 ms of its thread in a profile) costs
 * more than it saves (docs/benchmarks.md#grep). The size only ever changes the speed, never the result.
 */
const SPLIT_FILES = 8000;
/** One file's lines as rg printed them. */
interface RgFile {
  path: string;
  lines: string[];
}

/**
 * The rg-walks search, or null when it does not apply (no rg or no real tree, a glob, a start that is
 * not its own canonical folder, a pattern rg cannot take or refuses, a name rg could order or print
 * differently): the caller then takes the explicit-list path.
 */
export async function grepByRgWalk(o: GrepRunOptions, acquire: () => GrepWorker): Promise<GrepRun | null> {
  const { view, stop, max } = o;
  const isReal = view.isReal?.bind(view);
  const realFiles = view.realFiles?.bind(view);
  if (!o.rg || o.type !== 'dir' || o.glob !== undefined || !isReal || !realFiles) return null;
  const source = rgPattern(o.pattern.source);
  if (source === null) return null;
  if ((await view.resolve(o.base).catch(() => null)) !== o.base) return null;
  const flags = rgSearchFlags(
    { pattern: source, ignoreCase: o.pattern.ignoreCase, maxFileBytes: MAX_TEXT_FILE_BYTES },
    max + 1,
  );
  // Two rg processes over the two halves of the tree (each is one thread: --sort): the second starts once
  // the walk is SECOND_AFTER entries in, or at its half; its output is read once the first is done.
  const rgBin = o.rg;
  const sizeKey = `${view.root}\0${o.base}`;
  // The folders .gitignore excluded at the last complete walk are rg's to skip (node_modules deep down);
  // should the walk now enter one, the search starts again on the lists path.
  const memory = recall(sizeKey);
  const excludes = memory?.ignored ?? [];
  const excluded = new Set(excludes);
  const split = (memory?.files ?? 0) >= (o.rgSplitFiles ?? SPLIT_FILES);
  // Known ignored folders make the listing of the start (which leaves them out) unneeded for one rg.
  const parts = memory && !split ? [[o.base === '' ? '.' : o.base]] : await rgParts(view, o.base, split);
  const rgs: Started[] = [];
  const started: Array<(r: Started | null) => void> = [];
  const turns = parts.map((_, i) => new Promise<Started | null>((resolve) => (started[i] = resolve)));
  const start = (i: number) => {
    if (i >= parts.length || rgs.length !== i) return;
    rgs.push(startRg(rgBin, view.root, flags, parts[i], excludes));
    started[i](rgs[i]);
  };
  const killAll = () => {
    for (const r of rgs) r.child.kill('SIGKILL');
    for (const s of started) s(null); // a part not started by now is not wanted
  };
  start(0);
  // Stops the in-process side and the walk early (a fallback) without stopping the call.
  const inner = new AbortController();
  const onStop = () => inner.abort();
  stop.addEventListener('abort', onStop, { once: true });
  if (stop.aborted) inner.abort();

  const eligible = new Set<string>(); // what the walk would have handed to rg, so far
  const inProcess: string[] = [];
  const procQueue = new FileQueue();
  const proc = searchInProcess(view, procQueue, acquire, o.pattern.literal, max, inner.signal);
  const kept: RgFile[] = [];
  let found = 0;
  let stopAt: string | undefined;
  let walked: string | undefined; // the last path the walk yielded
  let walkDone = false;
  const pending: RgFile[] = [];
  let next = 0;
  const listings = new Map<string, Set<string> | null>();
  const counts = (path: string): boolean => {
    if (!eligible.has(path)) return false;
    const slash = path.lastIndexOf('/');
    const dir = slash < 0 ? '' : path.slice(0, slash);
    let names = listings.get(dir);
    if (names === undefined) listings.set(dir, (names = realFiles(dir)));
    return names?.has(path.slice(slash + 1)) ?? false;
  };
  // rg's files are decided in order, each once the walk has gone past it (or is done).
  const decide = () => {
    for (; next < pending.length && stopAt === undefined; next++) {
      const f = pending[next];
      if (!walkDone && (walked === undefined || walkOrder(f.path, walked) > 0)) return;
      if (!counts(f.path)) continue;
      kept.push(f);
      found += f.lines.length;
      if (found > max) {
        stopAt = f.path; // the files after it come later in the walk's order
        killAll();
      }
    }
  };
  const onFile = (f: RgFile) => {
    pending.push(f);
    decide();
  };
  const reading = (async () => {
    let code: number | null = null;
    let records = 0;
    for (const turn of turns) {
      const r = await turn;
      if (!r) break;
      const one = await readRg(r, o, onFile);
      records += one.records;
      if (one.code === 2 || code === null) code = one.code;
      if (stopAt !== undefined) break;
    }
    return { code, records };
  })();
  let refused = false;
  void reading.then(
    (r) => (refused = r.code === 2 && r.records === 0),
    () => undefined,
  );

  let total = 0;
  let seen = 0;
  let odd = false;
  let stale = false;
  const ignoredNow: string[] = [];
  try {
    for await (const e of walk(view, o.base, { signal: inner.signal })) {
      if (ODD_NAME.test(e.path.slice(e.path.lastIndexOf('/') + 1))) {
        odd = true;
        break;
      }
      if (e.ignored) {
        if (
          e.type === 'dir' &&
          !/(^|\/)\.git$/.test(e.path) &&
          ignoredNow.length < MAX_IGNORED &&
          PLAIN_PATH.test(e.path)
        )
          ignoredNow.push(e.path);
      } else if (excluded.has(e.path)) {
        stale = true; // rg skips what the walk now shows
        break;
      }
      walked = e.path;
      if (rgs.length === 1 && parts.length === 2 && (++seen >= SECOND_AFTER || walkOrder(walked, parts[1][0]) >= 0))
        start(1);
      if (!e.ignored && (e.type === 'file' || e.type === 'symlink')) {
        total++;
        if (e.type === 'file' && isReal(e.path)) eligible.add(e.path);
        else procQueue.push(inProcess.push(e.path) - 1, e.path);
      }
      decide();
      if (stopAt !== undefined && walkOrder(walked, stopAt) >= 0) break;
      if (proc.found >= max || refused) break; // the first files in process hold `max` lines (later rg files cannot count)
    }
    walkDone = !odd && !stale && stopAt === undefined && proc.found < max && !refused && !inner.signal.aborted;
    procQueue.close();
    if (!walkDone) killAll();
    else {
      if (parts.length === 2) start(1);
      decide();
    }
    if (odd || stale) inner.abort();
    if (stale) forget(sizeKey);
    const [inProc, r] = await Promise.all([proc.done, reading]);
    if (odd || stale || (r.code === 2 && r.records === 0 && !stop.aborted && (await refuses(o.rg, view.root, flags))))
      return null;
    // Both sides' files, merged in the walk's order.
    const files = [...kept];
    for (const [k, lines] of inProc.lines) files.push({ path: inProcess[k], lines });
    files.sort((a, b) => walkOrder(a.path, b.path));
    const lines = new Map<number, string[]>();
    files.forEach((f, k) => lines.set(k, f.lines));
    // Files rg searched: those the walk handed over, up to where rg was stopped.
    const viaRg = stopAt === undefined ? eligible.size : countUpTo(eligible, stopAt);
    remember(sizeKey, total, walkDone ? ignoredNow : null);
    return { lines, searched: viaRg + inProc.searched, inProcess: inProc.searched, total };
  } finally {
    procQueue.close();
    killAll();
    stop.removeEventListener('abort', onStop);
  }
}

/** A started rg and how it ended (listened for from the start: it may end before its output is read). */
interface Started {
  child: ChildProcess;
  ended: Promise<number | null>;
}

function startRg(rg: string, root: string, flags: string[], paths: readonly string[], excludes: string[]): Started {
  const args = [
    ...flags,
    '--no-ignore', // .gitignore is the walk's to apply; rg reads no ignore file at all
    '--hidden',
    '--no-follow',
    '--sort=path',
    '--binary', // binary files as when named explicitly ("binary file matches", never their lines)
    '--glob=!.git',
    ...excludes.map((d) => `--glob=!/${d}`),
    '--',
    ...paths,
  ];
  const child = spawn(rg, args, { cwd: root, stdio: ['ignore', 'pipe', 'ignore'] });
  // Someone listens from the start: Node drops the output of a child that exits unlistened to, and this
  // run's output is read only once the run before it is done (the pipe holds it meanwhile: rg waits).
  child.stdout.on('readable', () => undefined);
  const ended = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', resolve);
  });
  ended.catch(() => undefined);
  return { child, ended };
}

/** Streams rg's files to `onFile` as each one's lines are complete; its exit code and the records read. */
async function readRg(
  { child, ended }: Started,
  o: GrepRunOptions,
  onFile: (f: RgFile) => void,
): Promise<{ code: number | null; records: number }> {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let records = 0;
  let current: RgFile | undefined;
  const take = (record: Buffer) => {
    records++;
    const parsed = parseRgRecord(record, decoder, o.maxLineChars);
    if (!parsed) return;
    const strip = parsed[0].startsWith('./') ? 2 : 0; // rg names the files below "." as "./path"
    const path = parsed[0].slice(strip);
    if (current?.path !== path) {
      if (current) onFile(current);
      current = { path, lines: [] };
    }
    current.lines.push(strip ? parsed[1].slice(strip) : parsed[1]);
  };
  const kill = () => child.kill('SIGKILL');
  o.stop.addEventListener('abort', kill, { once: true });
  if (o.stop.aborted) kill();
  let rest: Buffer = Buffer.alloc(0);
  try {
    // Read to the end of the output (kept in the stream while the run waited its turn), then the exit code.
    for await (const d of child.stdout! as AsyncIterable<Buffer>) {
      let buf = rest.length ? Buffer.concat([rest, d]) : d;
      let nl: number;
      while ((nl = buf.indexOf(0x0a)) >= 0) {
        take(buf.subarray(0, nl));
        buf = buf.subarray(nl + 1);
      }
      rest = Buffer.from(buf);
    }
    const code = await ended;
    if (rest.length) take(rest);
    if (current) onFile(current);
    return { code, records };
  } finally {
    o.stop.removeEventListener('abort', kill);
  }
}

/** Whether rg refuses the pattern itself (exit 2 on an empty input), as opposed to failing on a file. */
function refuses(rg: string, root: string, flags: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(rg, [...flags, '--', '/dev/null'], { cwd: root, stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('close', (code) => resolve(code === 2));
  });
}

/** Files of the set at or before `last` in the walk's order. */
function countUpTo(files: Set<string>, last: string): number {
  let n = 0;
  for (const f of files) if (walkOrder(f, last) <= 0) n++;
  return n;
}
