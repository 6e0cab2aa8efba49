import { type FileHandle, open, readFile, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../state/index.js';
import { writeFileAtomic } from '../state/index.js';
import { typedFsError } from '../state/index.js';
import { type FaultHook, noSpaceError } from './fault.js';
import { type Checkpoint, emptyManifest, type Manifest, MAPS, type MapName } from './layer-types.js';
import { Mutex } from './mutex.js';

/** One log line: the changed keys of each map (null = removed), the tip, the checkpoints added since the line before, the undo stack. */
export interface LogDelta {
  maps: Record<MapName, Record<string, unknown>>;
  tip: string | null;
  /** Lines written before `cp` existed carry the whole list. */
  checkpoints?: Checkpoint[];
  cp?: [number, Checkpoint[]];
  accepts: string[];
}

export interface LayerLogOptions {
  logger?: Logger;
  faults?: FaultHook;
}

/** Where a line that an older version appended right after a torn one starts inside the damaged line. */
const LINE_START = '{"maps":';

function applyDelta(m: Manifest, delta: LogDelta): void {
  for (const name of MAPS) {
    const target = m[name] as Record<string, unknown>;
    for (const [k, v] of Object.entries(delta.maps?.[name] ?? {})) {
      if (v === null) delete target[k];
      else target[k] = v;
    }
  }
  const checkpoints = delta.cp
    ? [...m.checkpoints.slice(0, delta.cp[0]), ...delta.cp[1]]
    : (delta.checkpoints ?? m.checkpoints);
  Object.assign(m, { tip: delta.tip, checkpoints, accepts: delta.accepts });
}

function parseDelta(text: string): LogDelta | null {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && 'maps' in v ? (v as LogDelta) : null;
  } catch {
    return null;
  }
}

/**
 * Why: a layer mutation costs one appended line (`layer.log`), not a rewrite of the whole manifest
 * (`layer.json`, replaced atomically now and then). The log is append-only and self-repairing: a torn
 * last line (a crash, a full disk) is cut off at open and logged; an append that fails or comes up
 * short is cut back at once, and if even that fails the next save writes a whole snapshot — a line is
 * never appended after a torn one.
 */
export class LayerLog {
  private fh: FileHandle | null = null;
  /** Bytes of whole lines in the file. */
  private size = 0;
  private readonly queue = new Mutex();
  /** Whole lines in the file (a snapshot is written after COMPACT_AFTER of them). */
  lines = 0;
  /** An append failed and could not be cut back: the next save must be a snapshot. */
  broken = false;

  private constructor(
    readonly dir: string,
    private readonly opts: LayerLogOptions,
  ) {}

  get file(): string {
    return path.join(this.dir, 'layer.log');
  }

  /** Reads the snapshot and replays the log over it, repairing a torn tail (cut off, logged). */
  static async load(
    dir: string,
    sessionId: string,
    root: string,
    opts: LayerLogOptions = {},
  ): Promise<{ m: Manifest; log: LayerLog }> {
    const log = new LayerLog(dir, opts);
    let m: Manifest;
    try {
      m = JSON.parse(await readFile(path.join(dir, 'layer.json'), 'utf8')) as Manifest;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      m = emptyManifest(sessionId, root);
    }
    m.blobs ??= {}; // a layer written before blobs.dat
    let raw: Buffer;
    try {
      raw = await readFile(log.file);
    } catch {
      return { m, log };
    }
    let at = 0;
    for (let nl = raw.indexOf(10, at); nl >= 0; at = nl + 1, nl = raw.indexOf(10, at)) {
      const text = raw.toString('utf8', at, nl);
      log.lines++;
      if (text === '') continue;
      let delta = parseDelta(text);
      if (!delta) {
        // An older version appended after a torn line: the torn bytes and the next line share one line.
        const start = text.lastIndexOf(LINE_START);
        delta = start > 0 ? parseDelta(text.slice(start)) : null;
        opts.logger?.warn(
          `shadow: ${log.file} line ${log.lines} is damaged (${text.length} chars); ${delta ? 'the line written after the torn one was recovered' : 'skipped'}`,
        );
      }
      if (delta) applyDelta(m, delta);
    }
    log.size = at;
    if (at < raw.byteLength) {
      await truncate(log.file, at);
      opts.logger?.warn(
        `shadow: ${log.file} ended in a torn line (${raw.byteLength - at} bytes at offset ${at}); cut off, the layer is as of the line before`,
      );
    }
    return { m, log };
  }

  /** Appends one line; a failed or short write is cut back off (DiskFull when the disk is full). */
  append(line: string): Promise<void> {
    return this.queue.run(async () => {
      const buf = Buffer.from(line + '\n');
      if (!this.fh) {
        this.fh = await open(this.file, 'a');
        this.size = (await this.fh.stat()).size;
      }
      const fh = this.fh;
      try {
        const cut = this.opts.faults?.before('log.append', this.file, buf.byteLength);
        if (typeof cut === 'number') {
          await fh.write(buf, 0, cut);
          throw noSpaceError(this.file);
        }
        const { bytesWritten } = await fh.write(buf);
        if (bytesWritten !== buf.byteLength) throw noSpaceError(this.file);
      } catch (e) {
        await fh.truncate(this.size).catch(() => (this.broken = true));
        throw await typedFsError(e, this.file);
      }
      this.size += buf.byteLength;
      this.lines++;
    });
  }

  /**
   * Writes layer.json whole (the shared temp + fsync + rename) and empties the log. A crash between the
   * two replays an old log over the new snapshot: harmless, each line sets keys to values.
   */
  snapshot(m: Manifest): Promise<void> {
    return this.queue.run(async () => {
      const json = path.join(this.dir, 'layer.json');
      try {
        this.opts.faults?.before('snapshot.write', json);
        await writeFileAtomic(json, JSON.stringify(m));
        // Truncation, not a new file: the append handle keeps writing at the (new) end.
        if (this.fh) await this.fh.truncate(0);
        else await writeFile(this.file, '');
      } catch (e) {
        throw await typedFsError(e, json);
      }
      this.size = 0;
      this.lines = 0;
      this.broken = false;
    });
  }

  /** Closes the append handle (the next append reopens it). */
  close(): Promise<void> {
    return this.queue.run(async () => {
      const fh = this.fh;
      this.fh = null;
      await fh?.close();
    });
  }
}
