// One grep call's search: the walk feeds two queues as it goes — the person's unchanged regular files
// to ripgrep, everything else (files the shadow changed, links, and all files when rg is absent) to
// the in-process search — and stops as soon as either has the first `max` lines of its files.
import picomatch from 'picomatch';
import { pathGlobOptions } from '../../glob-base.js';
import type { EntryType, WorkspaceView } from '../../shadow/index.js';
import type { Spawner } from '../../spawner/index.js';
import { FileQueue, type QueuedFile, type RgFolder } from './file-queue.js';
import type { GrepPattern } from './grep-pattern.js';
import { rgPattern, searchWithRg } from './grep-rg.js';
import { searchInProcess, type Searched } from './grep-search.js';
import type { GrepWorker, GrepWorkers } from './grep-worker.js';
import { MAX_TEXT_FILE_BYTES } from './text.js';
import { walkBatches, type WalkBatch } from './walk.js';

/**
 * Files the walk may queue for rg beyond what rg asked for. While rg's first run is out, about as many
 * as `max` (files of one matching line each), at least RG_AHEAD_MIN: a first run often answers a small
 * `max` alone, and a walk running on beside it slowed that answer by a quarter; a large `max` needs the
 * files anyway (with 512 ahead, the 5,000-line row waited for the walk between its two runs).
 */
const RG_AHEAD_MIN = 512;
const RG_AHEAD = 2048;
/**
 * Once lines were found, rg's next run is sized by their density to hold the rest (nextChunk): the walk stays this
 * few files past it instead of RG_AHEAD (at 20,000 files the 5,000-line grep walked ~2,000 files beside its second
 * run that no run took).
 */
const RG_AHEAD_FOUND = 256;

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
  /** What starts rg (the daemon's spawner process, or direct spawns). */
  spawner: Spawner;
  workers: GrepWorkers;
  maxLineChars: number;
  /** GrepToolOptions.rgSizeCheckMs. */
  rgSizeCheckMs?: number;
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
  const realSize = view.realSize?.bind(view);
  // rg may be given a whole folder only where the view can say its listing is the real folder's.
  const listsReal = view.listsReal?.bind(view);
  // Read before the walk asks isReal of any file: while it stays, no file the walk vouched for was taken over.
  const layerVersion = view.layerVersion?.bind(view);
  const since = layerVersion?.();
  // rg opens files by their path from the root: under a start that is not its own canonical path (a link on the way)
  // stillReal would drop every line it found, so such a start is searched in process.
  const canonical = o.base === '' || (await view.resolve(o.base).catch(() => null)) === o.base;
  // rg only where the view can say which files are the person's own and how big they are now.
  const rgSource = o.rg && isReal && realSize && canonical ? rgPattern(pattern.source) : null;
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
    rgQueue && rgSource && o.rg && realSize && isReal
      ? searchWithRg({
          rg: o.rg,
          spawner: o.spawner,
          root: view.root,
          queue: rgQueue,
          pattern: rgSource,
          ignoreCase: pattern.ignoreCase,
          max,
          maxLineChars: o.maxLineChars,
          maxFileBytes: MAX_TEXT_FILE_BYTES,
          signal: stop,
          sizeOf: realSize,
          isReal,
          unchanged: () => layerVersion !== undefined && layerVersion() === since,
          recheck: (files) => stillReal(view, files),
          ...(o.rgSizeCheckMs !== undefined ? { sizeCheckMs: o.rgSizeCheckMs } : {}),
        })
      : null;
  let total = 0;
  // rg gets regular files the view vouches are the person's own (not links, not changed by the shadow).
  const forRg = (path: string, plain: boolean) =>
    rgQueue !== null && plain && isReal !== undefined && !path.includes('\n') && isReal(path);
  const add = (path: string, rg: boolean, folder?: RgFolder) => {
    const k = total++;
    if (rg) rgQueue!.push(k, path, folder);
    else procQueue.push(k, path);
  };
  // The walk stays at most a few files past what rg asked for (it pauses; rg's next run says how many more).
  const first = Math.min(RG_AHEAD, Math.max(RG_AHEAD_MIN, max + 1));
  const ahead = () => (!fast || fast.runs === 0 ? first : fast.found > 0 ? RG_AHEAD_FOUND : RG_AHEAD);
  const paced = rgQueue ? () => (rgQueue.full(ahead()) ? rgQueue.room(ahead) : undefined) : () => undefined;
  try {
    if (o.type === 'dir') {
      const isMatch = o.glob ? picomatch(o.glob, pathGlobOptions(false)) : () => true;
      const cut = o.base ? o.base.length + 1 : 0;
      walking: for await (const batch of walkBatches(view, o.base, { signal: stop })) {
        // Each entry: skipped (null), for rg (true) or searched in process (false).
        const to = batch.map((e) =>
          e.ignored || e.type === 'dir' || e.type === 'other' || !isMatch(cut ? e.path.slice(cut) : e.path)
            ? null
            : forRg(e.path, e.type === 'file'),
        );
        const folder = listsReal ? rgFolder(batch, to, listsReal) : undefined;
        for (let i = 0; i < batch.length; i++) {
          if (proc.found > max || (fast?.found ?? 0) > max) break walking; // the first files already hold more than `max` lines
          const rg = to[i];
          if (rg === null) continue;
          add(batch[i].path, rg, folder);
          const wait = paced();
          if (wait) await wait;
        }
      }
    } else add(o.base, forRg(o.base, o.type === 'file'));
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
    } else if (viaRg?.kind === 'done') {
      more = viaRg;
      if (viaRg.again.length > 0) {
        // Files rg met a NUL in, or that the shadow took over: their lines as the in-process search gives them.
        const again = new FileQueue();
        for (const f of [...viaRg.again].sort((a, b) => a.k - b.k)) again.push(f.k, f.path);
        again.close();
        const redo = await searchInProcess(view, again, acquire, pattern.literal, max, stop).done;
        for (const [k, l] of redo.lines) lines.set(k, l);
      }
    }
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
 * The folder a walk batch stands for, when rg may be given it instead of its files (RgFolder): the batch is the
 * folder's whole listing, that listing is the real folder's own (listsReal: no file the shadow deleted or holds, none
 * left out), every entry in it is a folder or a regular file for rg, and it is not the workspace's top folder (rg
 * would print its files as ./name). A folder entry is fine: rg is given folders at depth 1.
 */
function rgFolder(
  batch: WalkBatch,
  to: readonly (boolean | null)[],
  listsReal: (dir: string) => boolean,
): RgFolder | undefined {
  if (!batch.whole || batch.length === 0) return undefined;
  const first = batch[0].path;
  const cut = first.lastIndexOf('/');
  if (cut <= 0) return undefined;
  let files = 0;
  for (let i = 0; i < batch.length; i++) {
    // A name that is not UTF-8 is listed with U+FFFD: the view cannot open it, rg walking the folder would read it
    // (and two such names list as one).
    if (batch[i].path.includes('\uFFFD', cut)) return undefined;
    if (batch[i].type === 'dir') continue;
    if (to[i] !== true) return undefined;
    files++;
  }
  const path = first.slice(0, cut);
  return files > 0 && listsReal(path) ? { path, files } : undefined;
}

/**
 * rg opens each listed file by its path from the workspace root, so a folder on the way that another
 * process swapped for a link after the walk listed it (or a file swapped for one) would be followed.
 * Lines count only from files whose real folder is still at its own path (no link on the way, none
 * to outside, nothing denied: WorkspaceView.realFiles, or resolve and readdir) and still lists them as
 * regular files; the rest are dropped, like a file that vanished. A swap undone before this check is not seen (docs/tools.md, weak spots).
 */
async function stillReal(view: WorkspaceView, files: readonly QueuedFile[]): Promise<ReadonlySet<number>> {
  const byDir = new Map<string, QueuedFile[]>();
  for (const f of files) {
    const dir = f.path.includes('/') ? f.path.slice(0, f.path.lastIndexOf('/')) : '';
    const list = byDir.get(dir);
    if (list) list.push(f);
    else byDir.set(dir, [f]);
  }
  const kept = new Set<number>();
  const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
  await Promise.all(
    [...byDir].map(async ([dir, list]) => {
      let names: Set<string> | null;
      if (view.realFiles)
        names = view.realFiles(dir); // one synchronous open, check and listing
      else {
        const same = (await view.resolve(dir).catch(() => null)) === dir;
        const listed = same ? await view.readdir(dir).catch(() => []) : [];
        names = new Set(listed.filter((e) => e.type === 'file').map((e) => e.name));
      }
      for (const f of list) if (names?.has(base(f.path))) kept.add(f.k);
    }),
  );
  return kept;
}
