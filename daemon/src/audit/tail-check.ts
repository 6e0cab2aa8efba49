import { type Entry, entryHash, genesisHash, segmentGenesisHash } from './canonical.js';
import { type Checkpoint, CheckpointLine, checkCheckpoint } from './checkpoint.js';
import { parseEntry, type TailWindow } from './files.js';
import type { DaemonKey } from './keys.js';
import type { AuditReference } from './verify.js';

/** What the writer may extend: the end of a chain that verified, or why it may not. */
export type TailState =
  | { ok: true; lastSeq: number; lastHash: string; signedUpTo: number }
  | { ok: false; reason: string; seq: number | null; highestSeq: number; lastSeq: number };

type Item = { cp: Checkpoint } | { e: Entry } | { bad: string };

function parse(line: string): Item {
  if (line.startsWith('{"checkpoint"')) {
    try {
      const r = CheckpointLine().safeParse(JSON.parse(line) as unknown);
      if (r.success) return { cp: r.data.checkpoint };
    } catch {
      /* below */
    }
    return { bad: line };
  }
  const e = parseEntry(line);
  return e ? { e } : { bad: line };
}

/** Where a log's first segment starts: 1, or the seq of the `audit.chain_broken` entry that opened it. */
export function segmentStart(first: Entry | null, workspace: string): number {
  return first &&
    first.seq > 1 &&
    first.type === 'audit.chain_broken' &&
    first.prevHash === segmentGenesisHash(workspace, first.seq)
    ? first.seq
    : 1;
}

/**
 * Decides, at open, whether the writer may extend a log: the newest checkpoint line must carry this key's
 * signature and name the entry before it; every entry after it must continue the chain and carry this
 * key's mac (an entry written without the key is forged, however right its hashes); the signed head must
 * lie inside the log and name the same entry; no session may refer to a seq past the end (a cut tail).
 * Entries before the newest checkpoint are covered by its signature (verify walks them all).
 */
export function checkTail(o: {
  window: TailWindow;
  first: Entry | null;
  head: { head: Checkpoint | null; corrupt: boolean };
  key: DaemonKey;
  workspace: string;
  references: readonly AuditReference[];
}): TailState {
  const { key, workspace } = o;
  const items = o.window.lines.map(parse);
  const start = segmentStart(o.first, workspace);
  let highest = Math.max(o.head.head?.seq ?? 0, ...o.references.map((r) => r.seq));
  const entries: Entry[] = [];
  for (const it of items) if ('e' in it) highest = Math.max(highest, it.e.seq);
  let lastSeq = 0;
  const broken = (reason: string, seq: number | null): TailState => ({
    ok: false,
    reason,
    seq,
    highestSeq: highest,
    lastSeq,
  });

  if (items.some((it) => 'bad' in it)) return broken('unparseable_line', null);
  const cpAt = items.findLastIndex((it) => 'cp' in it);
  let prev: Entry | null = null;
  let signedUpTo = 0;
  if (cpAt >= 0) {
    const c = (items[cpAt] as { cp: Checkpoint }).cp;
    if (!checkCheckpoint(key, workspace, c)) return broken('bad_signature', c.seq);
    const before = items.slice(0, cpAt).findLast((it): it is { e: Entry } => 'e' in it)?.e;
    if (!before || before.seq !== c.seq || before.hash !== c.hash || entryHash(before) !== before.hash)
      return broken('checkpoint_mismatch', c.seq);
    prev = before;
    lastSeq = before.seq;
    entries.push(before);
    signedUpTo = c.seq;
  } else if (!o.window.fromStart) return broken('checkpoint_mismatch', null);

  for (const it of items.slice(cpAt + 1)) {
    if (!('e' in it)) continue;
    const e = it.e;
    const want = prev ? prev.seq + 1 : start;
    const prevHash = prev ? prev.hash : start === 1 ? genesisHash(workspace) : segmentGenesisHash(workspace, start);
    if (e.seq !== want) return broken(e.seq < want ? 'inserted_entry' : 'missing_entry', Math.min(e.seq, want));
    if (entryHash(e) !== e.hash) return broken('hash_mismatch', e.seq);
    if (e.prevHash !== prevHash) return broken('chain_broken', e.seq);
    if (e.mac === undefined || !key.checkMac(workspace, e.hash, e.mac)) return broken('bad_mac', e.seq);
    entries.push(e);
    prev = e;
    lastSeq = e.seq;
  }

  const { head, corrupt } = o.head;
  if (corrupt) return broken('head_corrupt', null);
  if (head) {
    if (!checkCheckpoint(key, workspace, head)) return broken('bad_signature', head.seq);
    if (head.seq > lastSeq) return broken('truncated_tail', lastSeq + 1);
    const named = entries.find((e) => e.seq === head.seq);
    if (head.seq < signedUpTo || (head.seq > 0 && named?.hash !== head.hash))
      return broken('checkpoint_mismatch', head.seq);
    signedUpTo = Math.max(signedUpTo, head.seq);
  } else if (cpAt >= 0) return broken('head_missing', null);

  for (const r of o.references) {
    if (r.seq < start) continue;
    if (r.seq > lastSeq) return broken('truncated_tail', lastSeq + 1);
    const e = entries.find((x) => x.seq === r.seq);
    if (e && e.data.callId !== r.callId) return broken('reference_mismatch', r.seq);
  }
  return { ok: true, lastSeq, lastHash: prev?.hash ?? genesisHash(workspace), signedUpTo };
}
