import { constants } from 'node:fs';
import { open, readFile, truncate } from 'node:fs/promises';
import path from 'node:path';
import { SessionEvent, type SessionEventBody } from '@shadowbox/protocol';
import { diskFullError, fsyncDir, isDiskFull } from '../state/index.js';

/** What reading a log found besides the events: a torn last line after a crash is reported, not dropped silently. */
export interface LogReadResult {
  events: SessionEvent[];
  /** Bytes after the last newline: a line a crash or a full disk cut short. */
  tornTail: boolean;
  /** Complete lines that are not events (a log written by an older daemon may hold one mid-file). */
  badLines: number;
  /** Length of the intact prefix: everything up to and including the last newline. */
  validBytes: number;
}

/** Reads a session log; invalid lines are counted, a torn final line (no newline) is flagged and not parsed. */
export async function readEventLog(file: string): Promise<LogReadResult> {
  const buf = await readFile(file).catch((e: NodeJS.ErrnoException) =>
    e.code === 'ENOENT' ? Buffer.alloc(0) : Promise.reject(e),
  );
  const validBytes = buf.lastIndexOf(0x0a) + 1;
  const events: SessionEvent[] = [];
  let badLines = 0;
  for (const line of buf.toString('utf8', 0, validBytes).split('\n')) {
    if (!line) continue;
    try {
      const parsed = SessionEvent().safeParse(JSON.parse(line) as unknown);
      if (parsed.success) events.push(parsed.data);
      else badLines++;
    } catch {
      badLines++;
    }
  }
  return { events, tornTail: validBytes < buf.byteLength, badLines, validBytes };
}

/**
 * Opens a session log for appending: a torn tail (a line a crash or a short write cut off) is cut
 * away first, so no new line is ever glued to it; `onRepair` says what was removed.
 */
export async function openEventLog(
  file: string,
  options: Omit<EventLogOptions, 'size'> & { onRepair?: (bytes: number) => void } = {},
): Promise<{ log: EventLog; read: LogReadResult }> {
  const read = await readEventLog(file);
  if (read.tornTail) {
    const size = (await readFile(file)).byteLength;
    await truncate(file, read.validBytes);
    options.onRepair?.(size - read.validBytes);
  }
  const last = read.events.at(-1);
  return { log: new EventLog(file, last ? last.seq + 1 : 0, { ...options, size: read.validBytes }), read };
}

/** Who hears about a log's batches: its session (fan-out) and whoever watches its health. */
export interface EventLogHandlers {
  /** Called once per batch that reached the disk, with its events in seq order: the only way events leave. */
  onDurable?: (events: SessionEvent[]) => void;
  /** Called when writing starts failing (once per episode) and with null when a write succeeds again. */
  onFailure?: (error: unknown) => void;
}

/** The file operations the log uses: a real FileHandle; tests wrap one to inject ENOSPC, EIO or short writes. */
export interface LogFile {
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  truncate(len: number): Promise<void>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the log file for positional writes (created 0600 when missing). */
export type OpenLogFile = (file: string) => Promise<LogFile>;

const openForWrite: OpenLogFile = (file) => open(file, constants.O_RDWR | constants.O_CREAT, 0o600);

/** How a log reaches its file: the opener (a fault-injecting one in tests), where the file ends, retries, fsync policy. */
export interface EventLogOptions {
  /** How the file is opened (default: the real file system). */
  openFile?: OpenLogFile;
  /** Bytes of the intact file (the next line is written there); 0 for a new log. */
  size?: number;
  /** Wait before retrying a failed batch (default 500 ms); a flush() retries at once. */
  retryMs?: number;
  /**
   * fdatasync every batch before its fan-out (default false: a batch is written — in the kernel, which a
   * daemon crash cannot take back — before anyone sees it, and fdatasynced when someone waits for it with
   * flush(): a request's answer, a stop). Clients run on the same machine, so a power cut takes their
   * memory of what they saw with it.
   */
  syncEveryBatch?: boolean;
}

interface Waiter {
  upTo: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * Append-only JSON Lines log of one session with group commit. `append` assigns the next seq and
 * queues the event; a single writer writes everything queued in one positional write and only then
 * hands the batch to `onDurable` (the fan-out to clients). So a client never sees an event a daemon
 * crash can take back, and a seq that was never seen may be reused after a crash harmlessly. `flush()`
 * also fdatasyncs (one fdatasync for everyone waiting): what a request's answer reports survives a power cut.
 * A failed or short write is cut off again (ftruncate to the last good byte) before anything else is
 * written, and the batch is retried: the file never holds a torn line followed by more lines. The
 * file is open only while a batch is being written (an idle session holds no descriptor).
 */
export class EventLog {
  private fh: LogFile | undefined;
  private pending: SessionEvent[] = [];
  private waiters: Waiter[] = [];
  private size: number;
  private durable: number;
  /** Every event below this seq is fdatasynced. */
  private synced: number;
  private writing = false;
  private scheduled = false;
  /** Bytes past `size` may be on disk (a write failed midway): truncate before the next write. */
  private dirty = false;
  private newFile: boolean;
  private failure: unknown = null;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Holders keeping the file open between batches (a running turn, direct tool calls). */
  private holds = 0;
  private handlers: EventLogHandlers = {};

  constructor(
    readonly file: string,
    private seq: number,
    private readonly options: EventLogOptions = {},
  ) {
    this.size = options.size ?? 0;
    this.durable = seq;
    this.synced = seq;
    this.newFile = this.size === 0;
  }

  /** Sets who gets the durable batches and the failure notices (the session that owns the log). */
  bind(handlers: EventLogHandlers): void {
    this.handlers = handlers;
  }

  /** The seq the next appended event gets. */
  get nextSeq(): number {
    return this.seq;
  }

  /** Every event with a lower seq is on disk (and was handed to onDurable). */
  get durableSeq(): number {
    return this.durable;
  }

  /** The error of the current failed-write episode, or null while writes succeed. */
  get failing(): unknown {
    return this.failure;
  }

  /**
   * Keeps the file open between batches: `hold(true)` by each holder (a running turn streams batch after batch,
   * a direct tool call writes two or three), `hold(false)` when it is done. When the last one lets go, the file
   * is closed as soon as nothing is being written, so an idle session holds no descriptor.
   */
  hold(on: boolean): void {
    this.holds = on ? this.holds + 1 : Math.max(0, this.holds - 1);
    if (this.holds === 0 && !this.writing && !this.scheduled) void this.release();
  }

  /** True while a descriptor is open (a batch is being written, or the log is held open). */
  get holdsHandle(): boolean {
    return this.fh !== undefined;
  }

  /** Assigns the next seq and queues the event; it reaches clients (onDurable) once it is on disk. */
  append(sessionId: string, body: SessionEventBody): SessionEvent {
    const event: SessionEvent = { sessionId, seq: this.seq++, time: new Date().toISOString(), event: body };
    this.pending.push(event);
    this.schedule();
    return event;
  }

  /** Resolves once every event appended so far is written and fdatasynced; rejects (typed DiskFull when so) if that fails. */
  flush(): Promise<void> {
    const upTo = this.seq;
    if (this.synced >= upTo) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ upTo, resolve, reject });
      if (this.failure !== null) {
        // Someone is waiting: retry now rather than at the next tick of the retry timer.
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
      }
      this.schedule();
    });
  }

  /** Writes what is queued (one attempt when writes are failing), then closes the file. */
  async close(): Promise<void> {
    await this.flush().catch(() => undefined);
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.release();
  }

  private schedule(): void {
    if (this.writing || this.scheduled || this.retryTimer || this.closed) return;
    this.scheduled = true;
    // A microtask later: every event appended in the same tick joins the batch.
    queueMicrotask(() => {
      this.scheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      for (;;) {
        if (this.pending.length > 0) {
          const batch = this.pending.slice();
          const buf = Buffer.from(batch.map((e) => `${JSON.stringify(e)}\n`).join(''));
          try {
            await this.write(buf);
          } catch (e) {
            await this.fail(e);
            return;
          }
          this.pending.splice(0, batch.length);
          this.size += buf.byteLength;
          this.durable = batch[batch.length - 1].seq + 1;
          if (this.options.syncEveryBatch) this.synced = this.durable;
          this.recovered();
          this.settleWaiters();
          this.handlers.onDurable?.(batch);
          continue;
        }
        // Everything is written; one fdatasync for whoever waits (a request's answer, a stop).
        if (this.waiters.length > 0 && this.synced < this.durable) {
          const upTo = this.durable;
          try {
            await this.sync();
          } catch (e) {
            await this.fail(e);
            return;
          }
          this.synced = upTo;
          this.recovered();
          this.settleWaiters();
          continue;
        }
        break;
      }
      if (this.holds === 0) await this.release();
    } finally {
      this.writing = false;
      if ((this.pending.length > 0 || this.waiters.length > 0) && !this.retryTimer) this.schedule();
    }
  }

  private settleWaiters(): void {
    this.waiters = this.waiters.filter((w) => (w.upTo <= this.synced ? (w.resolve(), false) : true));
  }

  private recovered(): void {
    if (this.failure === null) return;
    this.failure = null;
    this.handlers.onFailure?.(null);
  }

  /** One batch at the end of the intact prefix: positional writes (never O_APPEND), short writes continued. */
  private async write(buf: Buffer): Promise<void> {
    this.fh ??= await (this.options.openFile ?? openForWrite)(this.file);
    const fh = this.fh;
    if (this.dirty) {
      await fh.truncate(this.size);
      this.dirty = false;
    }
    let off = 0;
    while (off < buf.byteLength) {
      this.dirty = true;
      const { bytesWritten } = await fh.write(buf, off, buf.byteLength - off, this.size + off);
      if (bytesWritten <= 0) throw Object.assign(new Error(`short write to ${this.file}`), { code: 'EIO' });
      off += bytesWritten;
    }
    this.dirty = false;
    if (this.options.syncEveryBatch) await this.sync();
  }

  /** fdatasync of the file (and of its folder the first time, so a new log's name survives too). */
  private async sync(): Promise<void> {
    this.fh ??= await (this.options.openFile ?? openForWrite)(this.file);
    await this.fh.datasync();
    if (this.newFile) await fsyncDir(path.dirname(this.file));
    this.newFile = false;
  }

  private async fail(e: unknown): Promise<void> {
    const err = isDiskFull(e) ? await diskFullError(this.file, e) : e;
    // Cut whatever the failed write left past the intact prefix now; if even that fails, before the next write.
    if (this.dirty && this.fh) {
      await this.fh
        .truncate(this.size)
        .then(() => (this.dirty = false))
        .catch(() => undefined);
    }
    await this.release();
    const first = this.failure === null;
    this.failure = err;
    for (const w of this.waiters.splice(0)) w.reject(err);
    if (first) this.handlers.onFailure?.(err);
    if (!this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.schedule();
      }, this.options.retryMs ?? 500);
      this.retryTimer.unref();
    }
  }

  private async release(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    await fh?.close().catch(() => undefined);
  }
}
