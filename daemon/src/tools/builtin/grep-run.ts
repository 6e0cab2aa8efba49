// One grep call's search: the walk feeds two queues as it goes — the person's unchanged regular files
// to ripgrep, everything else (files the shadow changed, links, and all files when rg is absent) to
// the in-process search — and stops as soon as either has the first `max` lines of its files.
import picomatch from 'picomatch';
import { pathGlobOptions } from '../../glob-base.js';
import type { EntryType, WorkspaceView } from '../../shadow/index.js';
import { FileQueue } from './file-queue.js';
import type { GrepPattern } from './grep-pattern.js';
import { rgPattern, searchWithRg } from './grep-rg.js';
import { searchInProcess, type Searched } from './grep-search.js';
import type { GrepWorker, GrepWorkers } from './grep-worker.js';
import { MAX_TEXT_FILE_BYTES } from './text.js';
import { walk } from './walk.js';

/** Files the walk may queue for rg beyond what rg asked for. */
const RG_AHEAD = 2048;

/** What runGrep searches, and with what. */
export interface GrepRunOptions {
  view: WorkspaceView;
  /** The workspace-relative start as given: a folder or one file, of this type (view.stat). */
  base: string;
  type: EntryType;
  glob?: string | undefined;
  pattern: GrepPattern;
  max: number;
  stop: AbortSignal;
  rg: string | null;
  workers: GrepWorkers;
  maxLineChars: number;
}

/** Matching lines by file index (walk order), files searched (of them in process), files found by the walk. */
export interface GrepRun {
  lines: Map<number, string[]>;
  searched: number;
  inProcess: number;
  total: number;
}

/** Walks and searches; lines of files in walk order are the caller's to cut at `max`. */
export async function runGrep(o: GrepRunOptions): Promise<GrepRun> {
  const { view, pattern, max, stop } = o;
  const isReal = view.isReal?.bind(view);
  const rgSource = o.rg && isReal ? rgPattern(pattern.source) : null;
  let worker: GrepWorker | undefined;
  const acquire = (): GrepWorker => {
    if (!worker) {
      const w = (worker = o.workers.acquire(pattern));
      // Terminating the thread is what stops a match that is already running.
      stop.addEventListener('abort', () => w.kill(new Error(`grep stopped: ${String(stop.reason)}`)), { once: true });
    }
    return worker;
  };
  const procQueue = new FileQueue();
  const rgQueue = rgSource ? new FileQueue() : null;
  const proc = searchInProcess(view, procQueue, acquire, pattern.literal, max, stop);
  const fast =
    rgQueue && rgSource && o.rg
      ? searchWithRg({
          rg: o.rg,
          root: view.root,
          queue: rgQueue,
          pattern: rgSource,
          ignoreCase: pattern.ignoreCase,
          max,
          maxLineChars: o.maxLineChars,
          maxFileBytes: MAX_TEXT_FILE_BYTES,
          signal: stop,
        })
      : null;
  let total = 0;
  const add = (path: string, plain: boolean) => {
    const k = total++;
    // rg gets regular files the view vouches are the person's own (not links, not changed by the shadow).
    if (rgQueue && plain && isReal && !path.includes('\n') && isReal(path)) rgQueue.push(k, path);
    else procQueue.push(k, path);
  };
  // The walk stays at most RG_AHEAD files past what rg asked for (it pauses; rg's next run says how many more).
  const paced = rgQueue ? () => (rgQueue.full(RG_AHEAD) ? rgQueue.room(RG_AHEAD) : undefined) : () => undefined;
  try {
    if (o.type === 'dir') {
      const isMatch = o.glob ? picomatch(o.glob, pathGlobOptions(false)) : () => true;
      for await (const e of walk(view, o.base, { signal: stop })) {
        if (proc.found > max || (fast?.found ?? 0) > max) break; // the first files already hold more than `max` lines
        if (e.ignored || e.type === 'dir' || e.type === 'other') continue;
        if (!isMatch(o.base ? e.path.slice(o.base.length + 1) : e.path)) continue;
        add(e.path, e.type === 'file');
        const wait = paced();
        if (wait) await wait;
      }
    } else add(o.base, o.type === 'file' && (await view.resolve(o.base)) === o.base);
  } finally {
    procQueue.close();
    rgQueue?.close();
  }
  try {
    const [inProc, viaRg] = await Promise.all([proc.done, fast?.done]);
    const lines = inProc.lines;
    let searched = inProc.searched;
    let inProcess = inProc.searched;
    let more: Searched | undefined;
    if (viaRg?.kind === 'refused' && rgQueue) {
      // rg refused the pattern: its files, in order, in process too.
      const again = new FileQueue();
      for (const f of viaRg.files) again.push(f.k, f.path);
      for (let batch = await rgQueue.take(4096); batch.length > 0; batch = await rgQueue.take(4096))
        for (const f of batch) again.push(f.k, f.path);
      again.close();
      more = await searchInProcess(view, again, acquire, pattern.literal, max, stop).done;
      inProcess += more.searched;
    } else if (viaRg?.kind === 'done') more = await stillReal(view, viaRg);
    if (more) {
      for (const [k, l] of more.lines) lines.set(k, l);
      searched += more.searched;
    }
    return { lines, searched, inProcess, total };
  } finally {
    if (worker && !stop.aborted) worker.release();
  }
}

/**
 * rg opens each listed file by its path from the workspace root, so a folder on the way that another
 * process swapped for a link after the walk listed it (or a file swapped for one) would be followed.
 * Lines count only from files whose real folder is still at its own path (no link on the way, none
 * to outside, nothing denied: WorkspaceView.realFiles, or resolve and readdir) and still lists them as
 * regular files; the rest are dropped, like a file that vanished. A swap undone before this check is not seen (docs/tools.md, weak spots).
 */
async function stillReal(
  view: WorkspaceView,
  r: { lines: Map<number, string[]>; paths: Map<number, string>; searched: number; found: number },
): Promise<Searched> {
  const byDir = new Map<string, number[]>();
  for (const [k, path] of r.paths) {
    const dir = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    const list = byDir.get(dir);
    if (list) list.push(k);
    else byDir.set(dir, [k]);
  }
  const lines = new Map(r.lines);
  const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
  await Promise.all(
    [...byDir].map(async ([dir, ks]) => {
      let files: Set<string> | null;
      if (view.realFiles)
        files = view.realFiles(dir); // one synchronous open, check and listing
      else {
        const same = (await view.resolve(dir).catch(() => null)) === dir;
        const listed = same ? await view.readdir(dir).catch(() => []) : [];
        files = new Set(listed.filter((e) => e.type === 'file').map((e) => e.name));
      }
      for (const k of ks) if (!files?.has(base(r.paths.get(k)!))) lines.delete(k);
    }),
  );
  return { lines, searched: r.searched, found: r.found };
}
