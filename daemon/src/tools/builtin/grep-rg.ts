// grep over the person's unchanged files with ripgrep (Debian `ripgrep`), ~10× faster than matching in
// process. rg gets the regular files that grep's own walk chose (the view's listing: .gitignore applied,
// policy-denied paths already left out, files the shadow changed searched in process instead), by name, or
// as their folder where the walk saw that the folder's whole real listing is those files and folders
// (RgFolder): rg then reads one folder deep, no link followed, and nothing the view would not show at the
// walk's time (a file made there since is read, and its lines dropped). Its default engine (Rust's regex crate) is, like RE2, a finite-automaton engine: matching
// time stays linear in the input whatever the pattern; rgPattern() maps the few RE2 spellings whose
// meaning differs (Perl classes and word boundaries are Unicode-aware in Rust, ASCII in RE2).
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { ErrorCodes, isShadowboxError } from '../../errors.js';
import { createSpawner, type Spawner } from '../../spawner/index.js';
import type { FileQueue, QueuedFile, RgFolder } from './file-queue.js';
import { printablePath } from './text.js';

/** Where rg is: SHADOWBOX_RG (a path, or empty to turn rg off), else the first `rg` on PATH; null when absent. */
export function findRipgrep(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.SHADOWBOX_RG !== undefined) return env.SHADOWBOX_RG && isAbsolute(env.SHADOWBOX_RG) ? env.SHADOWBOX_RG : null;
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    try {
      accessSync(join(dir, 'rg'), constants.X_OK);
      return join(dir, 'rg');
    } catch {
      // not here
    }
  }
  return null;
}

// RE2's Perl classes are ASCII; Rust's are Unicode. Inside a class, Rust accepts a nested class.
// RE2 lets any ASCII punctuation be escaped (and translateRegExp writes `/` as `\/`); rg 13's engine refuses an
// escape of these ("unrecognized escape sequence", checked one by one), which sent the whole grep in process. Bare,
// each is the same literal in both engines, inside a class or out (no x flag in RE2).
const BARE_PUNCTUATION = new Set(['!', '"', '%', "'", ',', '/', ':', ';', '<', '=', '>', '@', '_', '`', ' ']);
const ASCII_CLASSES: Record<string, string> = {
  d: '[0-9]',
  D: '[^0-9]',
  w: '[0-9A-Za-z_]',
  W: '[^0-9A-Za-z_]',
  s: '[\\t\\n\\f\\r ]',
  S: '[^\\t\\n\\f\\r ]',
};

/**
 * The RE2 pattern (grep-pattern.ts's output) in the syntax of rg's default engine with the same
 * meaning, or null when it uses RE2 syntax that engine lacks (\C, \Q…\E is expanded): grep then
 * searches in process. Anything rg still refuses makes grep fall back too (searchWithRg → 'refused').
 */
export function rgPattern(re2: string): string | null {
  let out = '';
  let inClass = false;
  for (let i = 0; i < re2.length; i++) {
    const c = re2[i];
    if (c === '\\') {
      const n = re2[i + 1] ?? '';
      i++;
      if (n in ASCII_CLASSES) out += ASCII_CLASSES[n];
      else if (n === 'b' && !inClass) out += '(?-u:\\b)';
      // rg's \B (byte-wise, as \b must be) also matches inside a UTF-8 sequence and between \r and \n, where RE2
      // has no position: searched in process (review s9-grep R5).
      else if (n === 'B' && !inClass) return null;
      else if (n === 'C') return null;
      else if (BARE_PUNCTUATION.has(n)) out += n;
      else if ((n === 'x' || n === 'p' || n === 'P') && re2[i + 1] === '{' && re2.indexOf('}', i) > 0) {
        // \x{…}, \p{…}: copied whole (the braces are not a repetition).
        const end = re2.indexOf('}', i);
        out += `\\${re2.slice(i, end + 1)}`;
        i = end;
      } else if (n === '0') {
        // RE2's octal \0, \0N, \0NN (rg reads \0 as a backreference and refuses it).
        const oct = /^[0-7]{0,2}/.exec(re2.slice(i + 1))![0];
        out += `\\x{${parseInt(`0${oct}`, 8).toString(16)}}`;
        i += oct.length;
      } else if (n === 'Q') {
        const end = re2.indexOf('\\E', i + 1);
        const lit = end < 0 ? re2.slice(i + 1) : re2.slice(i + 1, end);
        out += lit.replace(/[\\.+*?()|[\]{}^$#&\-~]/g, (m) => `\\${m}`);
        i = end < 0 ? re2.length : end + 1;
      } else out += `\\${n}`;
    } else {
      if (c === '[' && !inClass) {
        inClass = true;
        out += c;
        // A ']' or '^]' right after '[' is a literal, not the end of the class.
        if (re2[i + 1] === '^') out += re2[++i];
        if (re2[i + 1] === ']') out += `\\${re2[++i]}`;
        continue;
      }
      if (c === ']' && inClass) inClass = false;
      else if (inClass && (c === '&' || c === '~')) {
        // rg reads `&&` and `~~` in a class as intersection and symmetric difference; RE2 as the characters.
        out += `\\${c}`;
        continue;
      } else if (inClass && c === '-' && re2[i + 1] === '-') {
        // `--` in a class: a difference in rg, a range ending or starting at '-' in RE2 (review s9-grep R2).
        return null;
      } else if (c === '[' && inClass && re2[i + 1] === ':') {
        // [:alpha:] inside a class: copied whole (same meaning in both engines).
        const end = re2.indexOf(':]', i + 2);
        if (end > 0) {
          out += re2.slice(i, end + 2);
          i = end + 1;
          continue;
        }
      } else if (c === '[' && inClass) {
        out += '\\['; // RE2 has no nested classes: a '[' inside one is literal
        continue;
      } else if (c === '{' && !inClass && !/^\{(?:0|[1-9]\d*)(?:,(?:0|[1-9]\d*)?)?\}/.test(re2.slice(i))) {
        // A count with a leading zero (`a{01}`) is no repetition in RE2 either (review s9-grep R1).
        out += '\\{'; // not a repetition: a literal in RE2 (`x{,3}`), an error in rg 13
        continue;
      }
      out += c;
    }
  }
  return out;
}

/** One rg search over the files of a queue (workspace-relative, in grep's order) under `root`. */
export interface RgSearchOptions {
  rg: string;
  /**
   * What starts rg: the daemon's spawner process (a fork of the daemon itself blocks its event loop for 4–25 ms, by
   * its size), else direct spawns.
   */
  spawner?: Spawner;
  root: string;
  queue: FileQueue;
  /** rgPattern()'s output. */
  pattern: string;
  ignoreCase: boolean;
  /** Stop once more than this many lines are found (the lines of the first files in order win). */
  max: number;
  maxLineChars: number;
  maxFileBytes: number;
  signal: AbortSignal;
  /**
   * The size of a listed file now (a regular file), or null; asked for the files rg found lines in once
   * it has exited, unless its stats rule out a file over `maxFileBytes` (dropOversize), and for all the
   * files of a run that is still running after a while (see sizeCheckMs). A file over `maxFileBytes` (rg
   * reads a listed file whatever its size, grep in process skips it) or gone gives no lines, and they do
   * not count toward `max`.
   */
  sizeOf: (path: string) => number | null;
  /** Whether a listed path is still the person's own file, untouched by the shadow (WorkspaceView.isReal). */
  isReal: (path: string) => boolean;
  /**
   * True when nothing isReal answers can have changed since the walk began (WorkspaceView.layerVersion has not
   * moved): every listed file is then still the person's own, and isReal is not asked again after a run.
   */
  unchanged: () => boolean;
  /**
   * Called after each rg run has exited with files it found lines in: the indexes of those whose lines
   * may count (the rest are dropped as if rg had found nothing there, before they count toward `max`).
   */
  recheck: (files: readonly QueuedFile[]) => Promise<ReadonlySet<number>>;
  /** Bytes of paths one rg run may take (default MAX_ARG_BYTES); halved for the rest of the search at an E2BIG. */
  argBytes?: number;
  /** When a run first has its files' sizes looked at (ms; default sizeCheckMs(files)): GrepToolOptions.rgSizeCheckMs. */
  sizeCheckMs?: number;
}

/**
 * What rg found: lines by file index, files searched, lines found (> max: there are more), and the files
 * whose lines are the in-process search's to give (`again`, in no order): those rg met a NUL byte in while
 * it had matches there (see runRg), and those the shadow took over (no longer isReal) by the time rg had
 * read them — or that it refused the pattern.
 */
export type RgSearchResult =
  | {
      kind: 'done';
      lines: Map<number, string[]>;
      searched: number;
      found: number;
      again: QueuedFile[];
    }
  | { kind: 'refused'; files: QueuedFile[] };

// Files per rg run: a small first one (a common pattern is answered from the first files), larger for a large `max`
// (FIRST_FILES_PER_LINE); then, once
// lines were found, as many files as the lines seen so far say hold the rest (with a margin), else all
// the walk has queued meanwhile (at least 8× more each time, at most MAX_CHUNK: each run costs a fork and rg's start,
// ~5–10 ms here when the daemon forked, ~2–4 from the spawner process, and at ×4 a 2,000-file tree took three); one
// run's arguments stay
// below the kernel's limit. (Taking every queued file after the first run searched 5,376 files for 5,000 lines
// that 2,000 hold: rg cannot stop early, its files finish in any order.)
const FIRST_CHUNK = 256;
/**
 * A first run for a large `max` gets this many files per line wanted (at two lines a file it holds them all): with
 * 256 files, the 5,000-line grep always took two runs, the second waiting for the walk, which rg's first run slowed
 * (two cores). A dense pattern would flood such a run with lines no one needs: see OVERFLOW_FACTOR.
 */
const FIRST_FILES_PER_LINE = 0.5;
/**
 * A run that prints more than this many times the lines wanted (max + 1) is killed and its files searched again in
 * runs of FIRST_CHUNK (then sized by the density seen): a pattern in every line of 2,500 files would otherwise print
 * ~200,000 lines where 5,000 were asked for.
 */
const OVERFLOW_FACTOR = 2;
const MAX_CHUNK = 16_384;
/**
 * Half of Linux's usual limit on a new program's arguments and environment together (ARG_MAX, 2 MiB with the
 * default 8 MiB stack): MAX_CHUNK files of paths up to ~55 bytes in one run (at 256 KiB, 16,384 files of the
 * bench's 24-byte paths took three). Where the kernel refuses (E2BIG: a smaller stack limit, a large
 * environment), the search goes on with half as much per run.
 */
const MAX_ARG_BYTES = 1024 * 1024;

/**
 * Where the rg run starting at `files[at]` ends: as many files as fit MAX_ARG_BYTES, counted as the kernel
 * counts an argument (its UTF-8 bytes, the NUL, the argv pointer), at least one. Each part is sized by its own
 * paths: a count taken from a chunk's first (short) paths once let a later part of long ones past the kernel's
 * limit, and every grep of that tree failed with E2BIG.
 */
export function partEnd(files: readonly { path: string }[], at: number, budget = MAX_ARG_BYTES): number {
  let end = at;
  for (let bytes = 0; end < files.length; end++) {
    bytes += Buffer.byteLength(files[end].path, 'utf8') + 1 + 8;
    if (bytes > budget && end > at) break;
  }
  return end;
}
const MARGIN = 1.25;

/** A search's options with what starts rg settled. */
type Started = RgSearchOptions & { spawner: Spawner };

/** Where a search stands between rg runs. */
export interface ChunkState {
  /** Lines wanted. */
  max: number;
  /** Lines found so far, in the files searched so far. */
  found: number;
  searched: number;
  /** rg runs so far, and the number of files the last one was given. */
  runs: number;
  last: number;
}

/**
 * How many files the next rg run takes (`max`) once `atLeast` are queued: the first run FIRST_CHUNK, or half a
 * file per line wanted when that is more;
 * with lines found, what their density says the rest needs (×MARGIN), and at least twice the last run
 * once such an estimate fell short (a tree dense at the start and sparse after it); with none found,
 * everything queued once there are 4× the last run's files.
 */
export function nextChunk(s: ChunkState): { max: number; atLeast: number } {
  if (s.runs === 0) {
    const n = Math.min(MAX_CHUNK, Math.max(FIRST_CHUNK, Math.ceil((s.max + 1) * FIRST_FILES_PER_LINE)));
    return { max: n, atLeast: n };
  }
  if (s.found > 0) {
    const need = Math.ceil(((s.max + 1 - s.found) * s.searched * MARGIN) / s.found) + 32;
    const n = Math.min(Math.max(need, s.runs > 1 ? s.last * 2 : 0), MAX_CHUNK);
    return { max: n, atLeast: n };
  }
  return { max: MAX_CHUNK, atLeast: Math.min(s.last * (s.runs === 1 ? 8 : 4), MAX_CHUNK) };
}

/**
 * Searches the queue's files in order, chunk by chunk as the walk delivers them (rg runs its threads
 * inside a chunk), stopping when more than `max` lines are found or the signal aborts (rg is killed). 'refused':
 * rg rejected the pattern (syntax its engine lacks) on the first chunk; the caller searches those
 * files, and the rest of the queue, in process instead.
 */
export function searchWithRg(options: RgSearchOptions): {
  readonly found: number;
  readonly runs: number;
  done: Promise<RgSearchResult>;
} {
  const o: Started = { ...options, spawner: options.spawner ?? createSpawner({ mode: 'direct' }) };
  const lines = new Map<number, string[]>();
  const again: QueuedFile[] = [];
  let found = 0;
  let searched = 0;
  let runs = 0;
  let argBytes = o.argBytes ?? MAX_ARG_BYTES;
  const done = (async (): Promise<RgSearchResult> => {
    for (let last = 0; found <= o.max && !o.signal.aborted; runs++) {
      const take = nextChunk({ max: o.max, found, searched, runs, last });
      const chunk = await o.queue.take(take.max, take.atLeast);
      if (chunk.length === 0 || o.signal.aborted) break;
      last = chunk.length;
      // Files per part after a run flooded with lines (OVERFLOW_FACTOR), then as the density seen says, never past
      // `cap`: half the last flooded part, so a dense region further on costs a few killed runs, each half the last,
      // not one per FIRST_CHUNK files (each re-reading everything up to it: review s13 G1).
      let limit = Infinity;
      let cap = Infinity;
      // A chunk longer than the argument budget runs in parts, in order, each sized by its own paths.
      for (let at = 0; at < chunk.length && found <= o.max && !o.signal.aborted;) {
        const part = chunk.slice(at, Math.min(partEnd(chunk, at, argBytes), at + limit));
        // Only a part larger than FIRST_CHUNK may be cut short for its lines: the smaller one that follows cannot.
        const overflowAt = part.length > FIRST_CHUNK ? OVERFLOW_FACTOR * (o.max + 1) : Infinity;
        // A run still going after a while that holds a file over the size cap is killed, and run again without
        // it (as in process, such a file is skipped: counted as searched, no lines).
        let files = part;
        const stats = searched === 0 || found * STATS_DENSITY >= searched;
        let r: RgRun;
        try {
          r = await runRg(o, files, o.max + 1 - found, stats, overflowAt);
        } catch (e) {
          // The kernel refused this many arguments: the same files again in smaller parts.
          if ((e as NodeJS.ErrnoException).code !== 'E2BIG' || part.length === 1) throw e;
          argBytes = Math.floor(argBytes / 2);
          continue;
        }
        while ((r.oversize || r.unfold) && !o.signal.aborted) {
          const big = new Set((r.oversize ?? []).map((f) => f.k));
          // A run given folders that was still going at its size check: the same files again, by name (unfold).
          files = files.filter((f) => !big.has(f.k)).map((f) => (r.unfold ? { k: f.k, path: f.path } : f));
          r =
            files.length > 0
              ? await runRg(o, files, o.max + 1 - found, stats, overflowAt)
              : { code: 0, lines: new Map(), binary: [] };
        }
        if (r.overflow) {
          // Killed for printing far more lines than are wanted: nothing of it counts, its files go again in smaller runs.
          cap = Math.max(FIRST_CHUNK, Math.floor(part.length / 2));
          limit = FIRST_CHUNK;
          continue;
        }
        // Stopped (a cancel, the time budget) before rg was through: what it had read is not known, so nothing of
        // this run counts, neither its lines nor its files as searched ("having searched N of M files" is what was
        // read whole, as in process; it counted the whole killed run).
        if (o.signal.aborted && (r.code === null || r.unfold || r.oversize)) break;
        if (r.code === 2 && r.lines.size === 0 && searched === 0 && (await refuses(o)))
          return { kind: 'refused', files: chunk };
        // rg read the person's files: one the shadow took over since the walk chose it (while rg ran, say) is
        // searched again in process, as is a file rg calls binary (isReal is asked again only when the layer
        // changed since the walk began). Of the rest, only those still as the walk saw them count, re-checked in
        // order until more than `max` lines are in (later files' lines are never shown).
        const redo = new Set(r.binary.map((f) => f.k));
        if (!o.unchanged()) for (const f of part) if (!o.isReal(f.path)) redo.add(f.k);
        for (const f of part) if (redo.has(f.k)) again.push(f);
        const withLines = files.filter((f) => r.lines.has(f.k) && !redo.has(f.k));
        for (let i = 0; i < withLines.length && found <= o.max;) {
          const batch: QueuedFile[] = [];
          for (let more = found; i < withLines.length && more <= o.max; i++) {
            batch.push(withLines[i]);
            more += r.lines.get(withLines[i].k)!.length;
          }
          const kept = await o.recheck(batch);
          for (const f of batch) {
            if (!kept.has(f.k)) continue;
            const l = r.lines.get(f.k)!;
            lines.set(f.k, l);
            found += l.length;
          }
        }
        searched += part.length;
        at += part.length;
        if (limit !== Infinity)
          limit = Math.min(cap, nextChunk({ max: o.max, found, searched, runs: runs + 1, last: part.length }).max);
      }
    }
    return { kind: 'done', lines, searched, found, again };
  })().finally(() => o.queue.done());
  return {
    get found() {
      return found;
    },
    get runs() {
      return runs;
    },
    done,
  };
}

/**
 * The paths one rg run is given for `files`: a folder whose files are all in the run (RgFolder: the walk saw its whole
 * listing, every entry a folder or a file for rg) as the folder itself, the other files one by one. Given 20,000
 * paths rg took 1.7× as long as given their 400 folders (bench/grep.mjs's tree). What rg prints for a file created in
 * such a folder after the walk matches no queued file and is dropped, as are the lines of a folder swapped for a link
 * (recheck: stillReal). The folders given are added to `folders`.
 */
export function rgPaths(files: readonly QueuedFile[], folders?: Set<string>): string[] {
  const inRun = new Map<RgFolder, number>();
  for (const f of files) if (f.folder) inRun.set(f.folder, (inRun.get(f.folder) ?? 0) + 1);
  const out: string[] = [];
  const given = new Set<RgFolder>();
  for (const f of files) {
    const d = f.folder;
    if (d === undefined || inRun.get(d) !== d.files) out.push(f.path);
    else if (!given.has(d)) {
      given.add(d);
      folders?.add(d.path);
      out.push(d.path);
    }
  }
  return out;
}

// When the sizes of a run's files are first looked at: well past the time such a run takes here (rg given
// paths: ~15 µs a file), so a run that is not reading an oversized file is almost never slowed by it.
const SIZE_CHECK_MIN_MS = 100;
const SIZE_CHECK_PER_FILE_MS = 0.05;

/** How long after its start an rg run over `files` files first has their sizes looked at (ms). */
export function sizeCheckMs(files: number): number {
  return Math.max(SIZE_CHECK_MIN_MS, files * SIZE_CHECK_PER_FILE_MS);
}

/**
 * rg is asked for its stats (dropOversize) on the first run, and then while at least one line in this many files
 * was found: --stats cost rg ~7% more CPU over 16,384 listed files here (~1 µs a file), an lstat costs 3–9 µs a
 * file with lines.
 */
const STATS_DENSITY = 8;

/**
 * Drops the lines of the files that grep in process would skip for their size (over `maxFileBytes`, or no
 * longer a regular file). A run that read at most `maxFileBytes` in all (rg's --stats) read no file larger
 * than that, except where it stopped early: at `perFile` lines (--max-count). Only those, or every file
 * with lines when the run read more (or was killed before its stats), have their size looked at (realSize:
 * an lstat each, a quarter of the 5,000-line grep's time when asked for every file with lines).
 */
function dropOversize(
  o: RgSearchOptions,
  files: readonly QueuedFile[],
  lines: Map<number, string[]>,
  perFile: number,
  bytesSearched: number | undefined,
): void {
  const all = bytesSearched === undefined || bytesSearched > o.maxFileBytes;
  for (const f of files) {
    const list = lines.get(f.k);
    if (!list || (!all && list.length < perFile)) continue;
    const size = o.sizeOf(f.path);
    if (size === null || size > o.maxFileBytes) lines.delete(f.k);
  }
}

/**
 * Whether rg refuses the pattern itself (exit 2 on an empty input), as opposed to failing on a file. No size check:
 * /dev/null is no file of the workspace (the view gives it no size, which counts as over the cap), and a pattern
 * rg 13 refuses at its size limit takes it ~130 ms to refuse, more on a loaded machine: killed at the check, the
 * probe said "not refused" and grep answered "No matches" for lines the in-process search finds.
 */
async function refuses(o: Started): Promise<boolean> {
  const r = await runRg(o, [{ k: -1, path: '/dev/null' }], 1, false, Infinity, false);
  return r.code === 2;
}

// rg's note for a listed file in which it met a NUL byte and had matches (printed alone on its line, no
// NUL after the name): `path: binary file matches (found "\0" byte around offset N)`.
const BINARY_NOTE = /^(.*): binary file matches \(found "\\0" byte around offset \d+\)$/s;
// What --stats prints after the last file (no NUL either, and no path rg is given holds a newline, so a note
// cannot pass for one): "N bytes searched" is the sum of the bytes rg read from the run's files.
const STATS =
  /^(?:\d+ (?:matches|matched lines|files contained matches|files searched|bytes printed|bytes searched)|[\d.]+ seconds(?: spent searching)?)$/;
const BYTES_SEARCHED = /^(\d+) bytes searched$/;

/** What one rg run gave: its exit code, lines by file index, the files it called binary, and the files it was killed for. */
interface RgRun {
  code: number | null;
  lines: Map<number, string[]>;
  binary: QueuedFile[];
  oversize?: QueuedFile[];
  /**
   * Killed at a size check with no queued file over the cap but folders given: a file made in one after the walk,
   * which no size check knows of, may be what it is reading (a 64 GiB sparse one would take seconds). Its files go
   * again by name, so such a file costs about sizeCheckMs, as one given by name does.
   */
  unfold?: true;
  /** Killed once it had printed more than `overflowAt` lines: its output is not to be used. */
  overflow?: true;
}

/**
 * Runs rg on some files; lines by file index, each file's at most `perFile`, and the files rg says are
 * binary. grep's in-process rule is "a NUL in the first 8 KiB: skipped, else searched as text"; rg's
 * for a listed file is "a NUL seen: NULs read as line ends, and the search stops at the next match with
 * that note". Up to the NUL both give the same lines, so only a noted file can differ: the caller
 * searches it again in process (a note naming no file of the run: all of the run's files with lines).
 * With `stats`, rg also prints its stats, which spare dropOversize most of its size look-ups. `sizeChecked`: false only
 * for a run on no file of the workspace (refuses).
 */
function runRg(
  o: Started,
  files: readonly QueuedFile[],
  perFile: number,
  stats: boolean,
  overflowAt = Infinity,
  sizeChecked = true,
): Promise<RgRun> {
  // Path → file index, built at the first record (a run that finds nothing, the common case on big trees, never needs it).
  let byPath: Map<string, number> | undefined;
  const indexOf = (path: string) => {
    if (!byPath) {
      byPath = new Map();
      for (const f of files) byPath.set(f.path, f.k);
    }
    return byPath.get(path);
  };
  const noted = new Set<number>();
  let unknownNote = false;
  // The folders given whole: a file in one that is not in the run was made there after the walk (its lines are dropped).
  const folders = new Set<string>();
  const paths = rgPaths(files, folders);
  const inFolder = (p: string) => p.lastIndexOf('/') > 0 && folders.has(p.slice(0, p.lastIndexOf('/')));
  let bytesSearched: number | undefined;
  const args = [
    '--no-config', // the person's RIPGREP_CONFIG_PATH must not change the engine, the output or what is searched
    '--engine=default',
    '--no-ignore',
    '--no-messages',
    '--null',
    '--no-heading',
    '--with-filename',
    '--line-number',
    '--color=never',
    ...(stats ? ['--stats'] : []),
    '--crlf',
    '--encoding=none',
    // rg's defaults let a pattern compile to ~10× this (\pL{1000}: ~245 MB, 0.5 s in every run) and its lazy DFA
    // grow to GBs on hostile contents (a.{25}c over 10 MB of a/b: 27 s, 1.35 GB). Above these rg refuses the
    // pattern and grep searches in process, RE2's linear time (review s9-grep R7, R10).
    '--regex-size-limit=16M',
    '--dfa-size-limit=16M',
    `--max-count=${perFile}`,
    // A long line comes back cut (the cut is past maxLineChars, so grep's own '...' replaces rg's note).
    '--max-columns=2048',
    '--max-columns-preview',
    ...(o.ignoreCase ? ['--ignore-case'] : ['--case-sensitive']),
    '--regexp',
    o.pattern,
    // A folder (rgPaths) is searched as its listed files would be: at depth 1 (its direct entries, no folder
    // entered), hidden names too, and a file with a NUL byte as a listed one (no link is followed in a folder).
    '--max-depth=1',
    '--hidden',
    '--binary',
    '--',
    ...paths,
  ];
  return new Promise((resolve, reject) => {
    // rg is started below, once its output handler exists; neither the abort nor the size check runs before that.
    const kill = () => child.kill('SIGKILL');
    o.signal.addEventListener('abort', kill, { once: true });
    // The sizes of the run's files are looked at only if it is still running after a while (sizeCheckMs): a
    // realSize per file as the walk queued it cost the 20,000-file no-match grep ~45% in an A/B (run 14). Looked
    // at again, twice as late each time: a file that grows while rg reads it costs about as long again as the
    // run had taken when it was looked at last.
    let oversize: QueuedFile[] | undefined;
    let unfold = false;
    let wait = o.sizeCheckMs ?? sizeCheckMs(files.length);
    const checkSizes = () => {
      // A file that is no regular file now (swapped for a link to a huge one after the walk vouched for it) counts
      // as oversize: the run goes again without it (review s9-grep R9).
      const big = files.filter((f) => (o.sizeOf(f.path) ?? Infinity) > o.maxFileBytes);
      if (big.length > 0) {
        oversize = big;
        kill();
      } else if (folders.size > 0) {
        unfold = true;
        kill();
      } else timer = setTimeout(checkSizes, (wait *= 2));
    };
    let timer = sizeChecked ? setTimeout(checkSizes, wait) : undefined;
    const lines = new Map<number, string[]>();
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    let overflow = false;
    let printed = 0;
    let shownFor = '';
    let shown = '';
    let rest: Buffer = Buffer.alloc(0);
    const take = (record: Buffer) => {
      if (overflow) return;
      const nul = record.indexOf(0);
      if (nul < 0) {
        if (record.length === 0) return;
        const text = record.toString('utf8');
        if (STATS.test(text)) {
          const n = BYTES_SEARCHED.exec(text);
          if (n) bytesSearched = Number(n[1]);
          return;
        }
        const m = BINARY_NOTE.exec(text);
        const k = m ? indexOf(m[1]) : undefined;
        if (k !== undefined) noted.add(k);
        else if (!m || !inFolder(m[1])) unknownNote = true;
        return;
      }
      const path = record.subarray(0, nul).toString('utf8');
      const k = indexOf(path);
      const colon = record.indexOf(0x3a, nul + 1);
      if (k === undefined || colon < 0) return;
      if (++printed > overflowAt) {
        overflow = true;
        kill();
        return;
      }
      const no = record.subarray(nul + 1, colon).toString('latin1');
      let text = decoder.decode(record.subarray(colon + 1));
      if (text.endsWith('\r')) text = text.slice(0, -1);
      if (text.length > o.maxLineChars) text = `${text.slice(0, o.maxLineChars)}...`;
      let list = lines.get(k);
      if (!list) lines.set(k, (list = []));
      // rg prints a file's lines together: its printed name is worked out once per file, not per line.
      if (path !== shownFor) [shownFor, shown] = [path, printablePath(path)];
      list.push(`${shown}:${no}: ${text}`);
    };
    const onStdout = (d: Buffer) => {
      let buf = rest.length ? Buffer.concat([rest, d]) : d;
      let nl: number;
      while ((nl = buf.indexOf(0x0a)) >= 0) {
        take(buf.subarray(0, nl));
        buf = buf.subarray(nl + 1);
      }
      rest = Buffer.from(buf);
    };
    const child = o.spawner.spawn(o.rg, args, { cwd: o.root, onStdout });
    child.exited.then(
      ({ code }) => {
        clearTimeout(timer);
        o.signal.removeEventListener('abort', kill);
        if (rest.length) take(rest);
        if (overflow) return resolve({ code, lines: new Map(), binary: [], overflow: true });
        if (unfold) return resolve({ code, lines: new Map(), binary: [], unfold: true });
        dropOversize(o, files, lines, perFile, bytesSearched);
        // rg prints each file's lines together and in order (files in any order: threads).
        const binary = files.filter((f) => noted.has(f.k) || (unknownNote && lines.has(f.k)));
        resolve({ code, lines, binary, ...(oversize ? { oversize } : {}) });
      },
      (e: unknown) => {
        clearTimeout(timer);
        o.signal.removeEventListener('abort', kill);
        // Killed by the stop (a cancel, the time budget) and still not ended after the kill wait (a hung disk): like
        // any run the stop killed, it counts for nothing, and the call answers with what it has, without it.
        if (o.signal.aborted && isShadowboxError(e, ErrorCodes.ToolFailed, 'program_not_ended'))
          return resolve({ code: null, lines: new Map(), binary: [] });
        reject(e);
      },
    );
  });
}
