import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import type { AuditVerify, ResultOf } from '@shadowbox/protocol';
import { AuditEntry } from '@shadowbox/protocol';
import { type Entry, entryHash, genesisHash, segmentGenesisHash } from './canonical.js';
import { Checkpoint, CheckpointLine, checkCheckpoint } from './checkpoint.js';
import type { DaemonKey } from './keys.js';

export type VerifyResult = ResultOf<typeof AuditVerify>;
type FirstBad = NonNullable<VerifyResult['firstBad']>;

/** A tool call a session's event log says it recorded at this seq of its workspace's audit log. */
export interface AuditReference {
  sessionId: string;
  callId: string;
  seq: number;
}

/** What verify also checks: every reference from the sessions' event logs; strict fails on an unsigned tail. */
export interface VerifyOptions {
  strict?: boolean;
  references?: readonly AuditReference[];
}

/** Entry types that record a break the writer found (and did not extend): verify keeps reporting them. */
export const BREAK_TYPES: ReadonlySet<string> = new Set(['audit.chain_broken', 'audit.discontinuity']);

async function* lines(file: string): AsyncGenerator<string> {
  // node:readline on first use: loading it was ~7 ms of every daemon start, which verifies no log.
  const rl = process
    .getBuiltinModule('node:readline')
    .createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
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

/** Reads the head file: the checkpoint, or `corrupt` when it is there but not one. */
export async function readHead(file: string): Promise<{ head: Checkpoint | null; corrupt: boolean }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return { head: null, corrupt: false };
  }
  try {
    const r = Checkpoint().safeParse(JSON.parse(text));
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
      const r = AuditEntry().safeParse(JSON.parse(line));
      if (r.success && r.data.seq === seq) return true;
    } catch {
      /* not an entry */
    }
  }
  return false;
}

/**
 * Walks a log once: every entry's hash, mac, seq and prevHash; every checkpoint's signature and the entry
 * it names; then the signed head file against the end of the log, the sessions' references against the
 * entries, and what no signature covers yet. Stops at the first damage and names it. A non-empty log
 * without a valid signed head fails; entries after the newest signature are the unsigned tail (reported;
 * a failure with `strict`); a recorded break (`audit.chain_broken`) keeps the result failing.
 */
export async function verifyLog(
  files: { log: string; head: string },
  workspace: string,
  key: DaemonKey | null,
  o: VerifyOptions = {},
): Promise<VerifyResult> {
  const { exists, nl } = await endsWithNewline(files.log);
  const { head, corrupt } = await readHead(files.head);
  const refs = new Map<number, AuditReference>();
  for (const r of o.references ?? []) refs.set(r.seq, r);
  let entries = 0;
  let checkpoints = 0;
  let lineNo = 0;
  let expected: number | null = null;
  let start = 1;
  let prevHash = genesisHash(workspace);
  let headHashSeen: string | null = null;
  let signedUpTo = 0;
  // Entries since the last good checkpoint line whose mac is missing or wrong (a later signature covers them).
  let unauthenticated: number[] = [];
  const breaks: NonNullable<VerifyResult['breaks']> = [];
  const bad = (b: FirstBad): VerifyResult => ({
    ok: false,
    entries,
    checkpoints,
    firstBad: b,
    ...(breaks.length ? { breaks } : {}),
  });

  const step = async (line: string, isLast: boolean): Promise<VerifyResult | null> => {
    lineNo++;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      const torn = isLast && !nl;
      return bad({
        seq: torn ? (expected ?? start) : null,
        line: lineNo,
        reason: torn ? 'torn_line' : 'unparseable_line',
      });
    }
    if (isLast && !nl) return bad({ seq: expected ?? start, line: lineNo, reason: 'torn_line' });
    const cp = typeof raw === 'object' && raw !== null && 'checkpoint' in raw ? CheckpointLine().safeParse(raw) : null;
    if (cp?.success) {
      const c = cp.data.checkpoint;
      if (!checkCheckpoint(key, workspace, c)) return bad({ seq: c.seq, line: lineNo, reason: 'bad_signature' });
      if (expected === null || c.seq !== expected - 1 || c.hash !== prevHash)
        return bad({ seq: c.seq, line: lineNo, reason: 'checkpoint_mismatch' });
      checkpoints++;
      signedUpTo = c.seq;
      unauthenticated = [];
      return null;
    }
    const parsed = AuditEntry().safeParse(raw);
    if (!parsed.success) return bad({ seq: null, line: lineNo, reason: 'malformed_entry' });
    const e: Entry = parsed.data;
    entries++;
    if (expected === null) {
      // The first entry: seq 1 from the workspace's genesis, or the start of a segment after a break.
      if (e.seq !== 1 && e.type === 'audit.chain_broken' && e.prevHash === segmentGenesisHash(workspace, e.seq)) {
        start = e.seq;
        prevHash = e.prevHash;
      }
      expected = start;
    }
    if (e.seq !== expected) {
      if (e.seq < expected) return bad({ seq: e.seq, line: lineNo, reason: 'inserted_entry' });
      const later = await seqAppearsLater(files.log, expected, lineNo);
      return bad({ seq: later ? e.seq : expected, line: lineNo, reason: later ? 'reordered' : 'missing_entry' });
    }
    if (entryHash(e) !== e.hash) return bad({ seq: e.seq, line: lineNo, reason: 'hash_mismatch' });
    if (e.prevHash !== prevHash) return bad({ seq: e.seq, line: lineNo, reason: 'chain_broken' });
    if (!key || e.mac === undefined || !key.checkMac(workspace, e.hash, e.mac)) unauthenticated.push(e.seq);
    const ref = refs.get(e.seq);
    if (ref && e.data.callId !== ref.callId)
      return bad({ seq: e.seq, line: lineNo, reason: 'reference_mismatch', sessionId: ref.sessionId });
    if (BREAK_TYPES.has(e.type)) {
      const d = e.data as { reason?: unknown; seq?: unknown; lastSeq?: unknown };
      const firstBadSeq = typeof d.seq === 'number' ? d.seq : typeof d.lastSeq === 'number' ? d.lastSeq + 1 : e.seq;
      breaks.push({ seq: firstBadSeq, line: lineNo, reason: typeof d.reason === 'string' ? d.reason : 'chain_broken' });
    }
    if (head && e.seq === head.seq) headHashSeen = e.hash;
    prevHash = e.hash;
    expected = e.seq + 1;
    return null;
  };

  if (exists) {
    // One line of lookahead, so the last line is known (a torn line can only be the last).
    let pending: string | null = null;
    for await (const line of lines(files.log)) {
      if (pending !== null) {
        const r = await step(pending, false);
        if (r) return r;
      }
      pending = line;
    }
    if (pending !== null) {
      const r = await step(pending, true);
      if (r) return r;
    }
  }
  const last = expected === null ? 0 : expected - 1;

  if (corrupt) return bad({ seq: null, line: 0, reason: 'head_corrupt' });
  if (head) {
    if (!checkCheckpoint(key, workspace, head)) return bad({ seq: head.seq, line: 0, reason: 'bad_signature' });
    if (head.seq > last) return bad({ seq: last + 1, line: lineNo + 1, reason: 'truncated_tail' });
    if (head.seq > 0 && (headHashSeen !== head.hash || head.seq < signedUpTo))
      return bad({ seq: head.seq, line: 0, reason: 'checkpoint_mismatch' });
    signedUpTo = Math.max(signedUpTo, head.seq);
  } else if (entries > 0) return bad({ seq: null, line: 0, reason: 'head_missing' });
  const forged = unauthenticated.find((s) => s > signedUpTo);
  if (forged !== undefined) return bad({ seq: forged, line: 0, reason: 'bad_mac' });
  // A session recorded a call at a seq this log no longer reaches: its tail was cut.
  for (const r of refs.values())
    if (r.seq >= start && r.seq > last)
      return bad({ seq: last + 1, line: lineNo + 1, reason: 'truncated_tail', sessionId: r.sessionId });
  const unsignedFrom = Math.max(signedUpTo, start - 1) + 1;
  const unsignedTail =
    last >= unsignedFrom ? { count: last - unsignedFrom + 1, fromSeq: unsignedFrom, toSeq: last } : null;
  if (o.strict && unsignedTail)
    return { ...bad({ seq: unsignedTail.fromSeq, line: 0, reason: 'unsigned_tail' }), unsignedTail };
  const result: VerifyResult = {
    ok: breaks.length === 0,
    entries,
    checkpoints,
    ...(breaks[0] ? { firstBad: breaks[0] } : {}),
    ...(breaks.length ? { breaks } : {}),
    ...(unsignedTail ? { unsignedTail } : {}),
  };
  return result;
}
