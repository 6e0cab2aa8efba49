import { mkdir, open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCodes, isShadowboxError, ShadowboxError } from '../errors.js';
import { type Logger, writeFileAtomic } from '../state/index.js';
import { type Entry, entryHash, genesisHash, sha256Hex } from './canonical.js';
import { Checkpoint, checkCheckpoint, signCheckpoint } from './checkpoint.js';
import { auditFiles, parseEntry, scanTail, writeAll } from './files.js';
import type { DaemonKey } from './keys.js';
import { type DataLimits, sanitizeData } from './redact.js';
import type { AuditEntryInput } from './sink.js';

/** How hard an append pushes its bytes to disk. */
export type Durability = 'checkpoint' | 'every';

export interface WriterOptions {
  checkpointEvery: number;
  checkpointIdleMs: number;
  durability: Durability;
  limits: DataLimits;
  now: () => Date;
}

interface Pending {
  input: AuditEntryInput;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/**
 * The single writer of one workspace's log. Every operation (a batch of appends, a checkpoint,
 * close) runs on one promise chain, so the chain can never fork or interleave; appends that arrive
 * while a write is in flight are batched into the next single write.
 */
export class WorkspaceWriter {
  private fh: FileHandle | null = null;
  private lastSeq = 0;
  private lastHash: string;
  private sinceCheckpoint = 0;
  private pending: Pending[] = [];
  private drainQueued = false;
  private chain: Promise<unknown> = Promise.resolve();
  private idle: NodeJS.Timeout | null = null;
  private closed = false;
  readonly files: ReturnType<typeof auditFiles>;

  constructor(
    stateDir: string,
    private readonly workspace: string,
    private readonly key: () => Promise<DaemonKey>,
    private readonly opts: WriterOptions,
    private readonly logger: Logger,
  ) {
    this.files = auditFiles(stateDir, workspace);
    this.lastHash = genesisHash(workspace);
  }

  append(input: AuditEntryInput): Promise<void> {
    if (this.closed)
      return Promise.reject(new ShadowboxError(ErrorCodes.AuditFailed, 'audit_closed', 'the audit log is closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ input, resolve, reject });
      if (!this.drainQueued) {
        this.drainQueued = true;
        void this.exclusive(() => this.drain());
      }
    });
  }

  /** Waits until everything appended so far is written (read-your-writes for query/verify). */
  flushed(): Promise<void> {
    return this.exclusive(async () => {});
  }

  /** Writes outstanding entries, a final checkpoint, syncs and closes the file. */
  close(): Promise<void> {
    this.closed = true;
    if (this.idle) clearTimeout(this.idle);
    return this.exclusive(async () => {
      await this.drain();
      if (!this.fh) return;
      if (this.sinceCheckpoint > 0) await this.checkpoint();
      await this.fh.datasync().catch(() => undefined);
      await this.fh.close();
      this.fh = null;
    });
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async drain(): Promise<void> {
    this.drainQueued = false;
    const batch = this.pending.splice(0);
    if (batch.length === 0) return;
    try {
      await this.ensureOpen();
      const lines: string[] = [];
      let seq = this.lastSeq;
      let prev = this.lastHash;
      for (const p of batch) {
        const e = this.entry(++seq, prev, p.input);
        lines.push(JSON.stringify(e) + '\n');
        prev = e.hash;
      }
      await writeAll(this.fh!, Buffer.from(lines.join('')));
      if (this.opts.durability === 'every') await this.fh!.datasync();
      this.lastSeq = seq;
      this.lastHash = prev;
      this.sinceCheckpoint += batch.length;
    } catch (e) {
      const err = isShadowboxError(e)
        ? e
        : new ShadowboxError(
            ErrorCodes.AuditFailed,
            'append_failed',
            `audit append failed for ${this.files.log}`,
            { file: this.files.log },
            { cause: e },
          );
      for (const p of batch) p.reject(err);
      await this.reset();
      return;
    }
    for (const p of batch) p.resolve();
    await this.afterWrite();
  }

  private entry(seq: number, prevHash: string, input: AuditEntryInput): Entry {
    const body: Omit<Entry, 'hash'> = {
      seq,
      time: this.opts.now().toISOString(),
      type: String(input.type).slice(0, 100) || 'unknown',
      data: sanitizeData(input.data ?? {}, this.opts.limits),
      prevHash,
    };
    if (input.sessionId !== undefined) body.sessionId = String(input.sessionId);
    return { ...body, hash: entryHash(body) };
  }

  private async afterWrite(): Promise<void> {
    try {
      if (this.sinceCheckpoint >= this.opts.checkpointEvery) await this.checkpoint();
      else if (this.opts.checkpointIdleMs > 0 && !this.closed) {
        if (this.idle) clearTimeout(this.idle);
        this.idle = setTimeout(() => void this.exclusive(() => this.idleCheckpoint()), this.opts.checkpointIdleMs);
        this.idle.unref();
      }
    } catch (e) {
      this.logger.error(`audit: checkpoint failed for ${this.files.log}: ${(e as Error).message}`);
    }
  }

  private async idleCheckpoint(): Promise<void> {
    this.idle = null;
    if (this.fh && this.sinceCheckpoint > 0)
      await this.checkpoint().catch((e: unknown) =>
        this.logger.error(`audit: checkpoint failed: ${(e as Error).message}`),
      );
  }

  /**
   * Signs (seq, hash) of the last entry: syncs the log first (the head must never claim entries the
   * disk lacks), replaces the head file atomically, then appends the checkpoint line.
   */
  private async checkpoint(): Promise<void> {
    if (!this.fh || this.lastSeq === 0) return;
    const key = await this.key();
    await this.fh.datasync();
    const cp = signCheckpoint(key, this.workspace, this.lastSeq, this.lastHash, this.opts.now().toISOString());
    await writeFileAtomic(this.files.head, JSON.stringify(cp) + '\n', { mode: 0o600 });
    await writeAll(this.fh, Buffer.from(JSON.stringify({ checkpoint: cp }) + '\n'));
    this.sinceCheckpoint = 0;
  }

  private async reset(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => undefined);
  }

  /**
   * Opens the log and finds where the chain ends. A torn last line (crash mid-write) is moved to a
   * side file and recorded as an `audit.torn_tail` entry; a head checkpoint the log no longer
   * reaches (truncation, rewrite) is recorded as `audit.discontinuity`, which verify keeps reporting.
   */
  private async ensureOpen(): Promise<void> {
    if (this.fh) return;
    await mkdir(this.files.dir, { recursive: true, mode: 0o700 });
    const fh = await open(this.files.log, 'a+', 0o600);
    try {
      const { size } = await fh.stat();
      const tail = await scanTail(fh, size);
      this.lastSeq = tail.last?.seq ?? 0;
      this.lastHash = tail.last?.hash ?? genesisHash(this.workspace);
      this.sinceCheckpoint = 0;
      const notes: AuditEntryInput[] = [];
      if (tail.tornStart !== null) notes.push(...(await this.repairTorn(fh, tail.tornStart, size)));
      const head = await this.readHead();
      if (
        head &&
        (head.seq > this.lastSeq ||
          (head.seq === this.lastSeq && head.hash !== this.lastHash) ||
          !checkCheckpoint(await this.key(), this.workspace, head))
      ) {
        const reason = !checkCheckpoint(await this.key(), this.workspace, head)
          ? 'bad_signature'
          : head.seq > this.lastSeq
            ? 'truncated_tail'
            : 'checkpoint_mismatch';
        this.logger.error(
          `audit: ${this.files.log} does not match its signed head (seq ${head.seq}, log ends at ${this.lastSeq}): ${reason}; recorded and continuing`,
        );
        notes.push({
          type: 'audit.discontinuity',
          workspace: this.workspace,
          data: { reason, headSeq: head.seq, headHash: head.hash, lastSeq: this.lastSeq, lastHash: this.lastHash },
        });
      }
      this.fh = fh;
      if (notes.length) {
        const lines = notes.map((n) => {
          const e = this.entry(this.lastSeq + 1, this.lastHash, n);
          this.lastSeq = e.seq;
          this.lastHash = e.hash;
          return JSON.stringify(e) + '\n';
        });
        await writeAll(fh, Buffer.from(lines.join('')));
        this.sinceCheckpoint += notes.length;
      }
    } catch (e) {
      this.fh = null;
      await fh.close().catch(() => undefined);
      throw e;
    }
  }

  private async repairTorn(fh: FileHandle, tornStart: number, size: number): Promise<AuditEntryInput[]> {
    const torn = Buffer.alloc(size - tornStart);
    await fh.read(torn, 0, torn.length, tornStart);
    const e = parseEntry(torn.toString('utf8'));
    if (e && e.seq === this.lastSeq + 1 && e.prevHash === this.lastHash && entryHash(e) === e.hash) {
      // Complete entry, only the newline is missing: keep it.
      await writeAll(fh, Buffer.from('\n'));
      this.lastSeq = e.seq;
      this.lastHash = e.hash;
      return [];
    }
    const saved = path.join(this.files.dir, `audit.torn-${this.opts.now().getTime()}.bin`);
    await writeFile(saved, torn, { mode: 0o600 });
    await fh.truncate(tornStart);
    this.logger.warn(
      `audit: torn last line in ${this.files.log} (${torn.length} bytes after seq ${this.lastSeq}); saved to ${saved} and recorded`,
    );
    return [
      {
        type: 'audit.torn_tail',
        workspace: this.workspace,
        data: {
          afterSeq: this.lastSeq,
          offset: tornStart,
          bytes: torn.length,
          sha256: sha256Hex(torn),
          savedTo: path.basename(saved),
        },
      },
    ];
  }

  private async readHead(): Promise<Checkpoint | null> {
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(this.files.head, 'utf8'));
    } catch {
      return null;
    }
    const r = Checkpoint.safeParse(raw);
    return r.success ? r.data : null;
  }
}
