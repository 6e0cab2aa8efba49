import { open, readFile, type FileHandle } from 'node:fs/promises';
import { SessionEvent, type SessionEventBody } from '@shadowbox/protocol';

/** What reading a log found besides the events: a torn last line after a crash is reported, not dropped silently. */
export interface LogReadResult {
  events: SessionEvent[];
  tornTail: boolean;
  badLines: number;
}

/** Reads a session log; invalid lines are counted, a torn final line (no newline) is flagged. */
export async function readEventLog(file: string): Promise<LogReadResult> {
  const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) =>
    e.code === 'ENOENT' ? '' : Promise.reject(e),
  );
  const events: SessionEvent[] = [];
  let badLines = 0;
  const tornTail = text.length > 0 && !text.endsWith('\n');
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const parsed = SessionEvent.safeParse(JSON.parse(line) as unknown);
      if (parsed.success) events.push(parsed.data);
      else badLines++;
    } catch {
      badLines++;
    }
  }
  return { events, tornTail, badLines };
}

/**
 * Append-only JSON Lines log of one session. Writes are serialized through one open file handle;
 * a torn tail from a previous crash is terminated with a newline before the first new append.
 */
export class EventLog {
  private fh: FileHandle | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private needsNewline = false;

  constructor(
    readonly file: string,
    private seq: number,
    tornTail = false,
  ) {
    this.needsNewline = tornTail;
  }

  get nextSeq(): number {
    return this.seq;
  }

  /** Assigns the next seq and appends; resolves once the line is written. */
  append(sessionId: string, body: SessionEventBody): { event: SessionEvent; written: Promise<void> } {
    const event: SessionEvent = { sessionId, seq: this.seq++, time: new Date().toISOString(), event: body };
    const line = `${this.needsNewline ? '\n' : ''}${JSON.stringify(event)}\n`;
    this.needsNewline = false;
    const written = this.queue.then(async () => {
      this.fh ??= await open(this.file, 'a', 0o600);
      await this.fh.write(line);
    });
    this.queue = written.catch(() => undefined);
    return { event, written };
  }

  /** Waits for pending writes and fsyncs. */
  async flush(): Promise<void> {
    await this.queue;
    await this.fh?.sync().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.fh?.close().catch(() => undefined);
    this.fh = undefined;
  }
}
