import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import readline from 'node:readline';
import type { AuditVerify, ResultOf } from '@shadowbox/protocol';
import { AuditEntry } from '@shadowbox/protocol';
import { type Entry, entryHash, genesisHash } from './canonical.js';
import { Checkpoint, CheckpointLine, checkCheckpoint } from './checkpoint.js';
import type { DaemonKey } from './keys.js';

export type VerifyResult = ResultOf<typeof AuditVerify>;
type FirstBad = NonNullable<VerifyResult['firstBad']>;

/**
 * Why verify stopped (data.reason-style codes):
 * torn_line, unparseable_line, malformed_entry, hash_mismatch, chain_broken, missing_entry,
 * reordered, inserted_entry, bad_signature, checkpoint_mismatch, truncated_tail, head_missing, head_corrupt.
 */
export type VerifyReason = string;

async function* lines(file: string): AsyncGenerator<string> {
  const rl = readline.createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  try {
    for await (const line of rl) yield line;
  } finally {
    rl.close();
  }
}

async function endsWithNewline(file: string): Promise<{ exists: boolean; size: number; nl: boolean }> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { exists: false, size: 0, nl: true };
    throw e;
  }
  try {
    const { size } = await fh.stat();
    if (size === 0) return { exists: true, size, nl: true };
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, size - 1);
    return { exists: true, size, nl: b[0] === 0x0a };
  } finally {
    await fh.close();
  }
}

async function readHead(file: string): Promise<{ head: Checkpoint | null; corrupt: boolean }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return { head: null, corrupt: false };
  }
  try {
    const r = Checkpoint.safeParse(JSON.parse(text));
    return r.success ? { head: r.data, corrupt: false } : { head: null, corrupt: true };
  } catch {
    return { head: null, corrupt: true };
  }
}

/** Whether an entry with this seq appears anywhere from line `fromLine` on (tells reordered from missing). */
async function seqAppearsLater(file: string, seq: number, fromLine: number): Promise<boolean> {
  let n = 0;
  for await (const line of lines(file)) {
    if (++n <= fromLine) continue;
    if (!line.includes(`"seq":${seq}`)) continue;
    try {
      const r = AuditEntry.safeParse(JSON.parse(line));
      if (r.success && r.data.seq === seq) return true;
    } catch {
      /* not an entry */
    }
  }
  return false;
}

/**
 * Walks a log once: every entry's hash, the chain of prevHash, consecutive seqs, every checkpoint's
 * signature and the entry it names, then the head file (the newest signed checkpoint, kept beside
 * the log) against the end of the log. Stops at the first bad entry and names it.
 */
export async function verifyLog(
  files: { log: string; head: string },
  workspace: string,
  key: DaemonKey | null,
): Promise<VerifyResult> {
  const { exists, nl } = await endsWithNewline(files.log);
  const { head, corrupt } = await readHead(files.head);
  let entries = 0;
  let checkpoints = 0;
  let lineNo = 0;
  let expected = 1;
  let prevHash = genesisHash(workspace);
  let headHashSeen: string | null = null;
  const bad = (b: FirstBad): VerifyResult => ({ ok: false, entries, checkpoints, firstBad: b });

  if (exists) {
    let pendingLine: string | null = null;
    const step = async (line: string, isLast: boolean): Promise<VerifyResult | null> => {
      lineNo++;
      let raw: unknown;
      try {
        raw = JSON.parse(line);
      } catch {
        return bad({
          seq: isLast && !nl ? expected : null,
          line: lineNo,
          reason: isLast && !nl ? 'torn_line' : 'unparseable_line',
        });
      }
      if (isLast && !nl) return bad({ seq: expected, line: lineNo, reason: 'torn_line' });
      const cp = typeof raw === 'object' && raw !== null && 'checkpoint' in raw ? CheckpointLine.safeParse(raw) : null;
      if (cp?.success) {
        const c = cp.data.checkpoint;
        if (!checkCheckpoint(key, workspace, c)) return bad({ seq: c.seq, line: lineNo, reason: 'bad_signature' });
        if (c.seq !== expected - 1 || c.hash !== prevHash)
          return bad({ seq: c.seq, line: lineNo, reason: 'checkpoint_mismatch' });
        checkpoints++;
        return null;
      }
      const parsed = AuditEntry.safeParse(raw);
      if (!parsed.success) return bad({ seq: null, line: lineNo, reason: 'malformed_entry' });
      const e: Entry = parsed.data;
      entries++;
      if (e.seq !== expected) {
        if (e.seq < expected) return bad({ seq: e.seq, line: lineNo, reason: 'inserted_entry' });
        const later = await seqAppearsLater(files.log, expected, lineNo);
        return bad({ seq: later ? e.seq : expected, line: lineNo, reason: later ? 'reordered' : 'missing_entry' });
      }
      if (entryHash(e) !== e.hash) return bad({ seq: e.seq, line: lineNo, reason: 'hash_mismatch' });
      if (e.prevHash !== prevHash) return bad({ seq: e.seq, line: lineNo, reason: 'chain_broken' });
      if (e.type === 'audit.discontinuity') {
        // The writer found the log shorter than (or different from) its signed head at startup.
        const d = e.data as { reason?: unknown; lastSeq?: unknown };
        const reason = typeof d.reason === 'string' ? d.reason : 'truncated_tail';
        return bad({ seq: typeof d.lastSeq === 'number' ? d.lastSeq + 1 : e.seq, line: lineNo, reason });
      }
      if (head && e.seq === head.seq) headHashSeen = e.hash;
      prevHash = e.hash;
      expected = e.seq + 1;
      return null;
    };
    // One line of lookahead, so the last line is known (a torn line can only be the last).
    for await (const line of lines(files.log)) {
      if (pendingLine !== null) {
        const r = await step(pendingLine, false);
        if (r) return r;
      }
      pendingLine = line;
    }
    if (pendingLine !== null) {
      const r = await step(pendingLine, true);
      if (r) return r;
    }
  }

  if (corrupt) return bad({ seq: null, line: 0, reason: 'head_corrupt' });
  if (!head)
    return checkpoints > 0 ? bad({ seq: null, line: 0, reason: 'head_missing' }) : { ok: true, entries, checkpoints };
  if (!checkCheckpoint(key, workspace, head)) return bad({ seq: head.seq, line: 0, reason: 'bad_signature' });
  if (head.seq > expected - 1) return bad({ seq: expected, line: lineNo + 1, reason: 'truncated_tail' });
  if (head.seq > 0 && headHashSeen !== head.hash) return bad({ seq: head.seq, line: 0, reason: 'checkpoint_mismatch' });
  return { ok: true, entries, checkpoints };
}
