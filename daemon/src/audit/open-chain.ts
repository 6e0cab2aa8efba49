import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { fsyncDir, type Logger } from '../state/index.js';
import { type Entry, entryHash, segmentGenesisHash, sha256Hex } from './canonical.js';
import { firstEntry, parseEntry, scanTail, tailWindow, writeAll } from './files.js';
import type { DaemonKey } from './keys.js';
import type { AuditEntryInput } from './sink.js';
import { checkTail, segmentStart, type TailState } from './tail-check.js';
import { type AuditReference, readHead, verifyLog } from './verify.js';

/** What the writer continues from. `unsigned` entries are not yet covered by a signature; `signed`: one exists. */
export interface OpenedChain {
  fh: FileHandle;
  lastSeq: number;
  lastHash: string;
  unsigned: number;
  signed: boolean;
}

interface OpenDeps {
  files: { dir: string; log: string; head: string };
  workspace: string;
  key: DaemonKey;
  logger: Logger;
  now: () => Date;
  references: AuditReference[];
  /** Builds an entry with the writer's rules (sanitized, hashed, mac'd). */
  entry: (seq: number, prevHash: string, input: AuditEntryInput) => Entry;
  open: (file: string) => Promise<FileHandle>;
}

async function sha256File(file: string): Promise<{ sha256: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const chunk of createReadStream(file)) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).byteLength;
  }
  return { sha256: h.digest('hex'), bytes };
}

/**
 * Opens a workspace's log for appending, refusing to extend a chain that does not verify:
 *  1. a torn last line (a crash or full disk mid-write) is kept when it is the complete, authentic next
 *     entry, else saved to `audit.torn-<ms>.bin`, cut off, and recorded (`audit.torn_tail`);
 *  2. the end of the log is checked (tail-check.ts; a log with no checkpoint in its last 64 MiB is
 *     verified from the start);
 *  3. a chain that fails is not extended and not re-signed: the log and its head are moved aside to
 *     `audit.broken-<ms>.jsonl` / `.head.json`, and a new segment starts with a signed `audit.chain_broken`
 *     entry naming why, where, and the moved file's size and sha256. Verify keeps reporting that break.
 */
export async function openChain(d: OpenDeps): Promise<OpenedChain> {
  let fh = await d.open(d.files.log);
  try {
    const { size } = await fh.stat();
    const tail = await scanTail(fh, size);
    const notes: AuditEntryInput[] = [];
    if (tail.tornStart !== null) {
      const note = await repairTorn(d, fh, tail.tornStart, size, tail.last);
      if (note) notes.push(note);
    }
    const end = (await fh.stat()).size;
    const head = await readHead(d.files.head);
    const first = await firstEntry(fh);
    const window = await tailWindow(fh, end);
    let state: TailState;
    if (window) {
      state = checkTail({ window, first, head, key: d.key, workspace: d.workspace, references: d.references });
    } else {
      // No checkpoint near the end (they were stripped?): verify the whole log before extending it.
      const v = await verifyLog(d.files, d.workspace, d.key, { references: d.references });
      const last = (await scanTail(fh, end)).last;
      state =
        v.firstBad && !v.breaks?.length
          ? {
              ok: false,
              reason: v.firstBad.reason,
              seq: v.firstBad.seq,
              highestSeq: last?.seq ?? 0,
              lastSeq: last?.seq ?? 0,
            }
          : {
              ok: true,
              lastSeq: last?.seq ?? 0,
              lastHash: last?.hash ?? '',
              signedUpTo: (last?.seq ?? 0) - (v.unsignedTail?.count ?? 0),
            };
    }
    let chain: OpenedChain;
    if (state.ok) {
      const from = Math.max(state.signedUpTo, segmentStart(first, d.workspace) - 1);
      chain = {
        fh,
        lastSeq: state.lastSeq,
        lastHash: state.lastHash,
        unsigned: state.lastSeq - from,
        signed: state.signedUpTo > 0,
      };
    } else {
      await fh.close();
      chain = await newSegment(d, state, head.head?.seq ?? null);
      fh = chain.fh;
    }
    for (const n of notes) {
      const e = d.entry(chain.lastSeq + 1, chain.lastHash, n);
      await writeAll(fh, Buffer.from(JSON.stringify(e) + '\n'));
      chain = { ...chain, lastSeq: e.seq, lastHash: e.hash, unsigned: chain.unsigned + 1 };
    }
    return chain;
  } catch (e) {
    await fh.close().catch(() => undefined);
    throw e;
  }
}

async function repairTorn(
  d: OpenDeps,
  fh: FileHandle,
  tornStart: number,
  size: number,
  last: Entry | null,
): Promise<AuditEntryInput | null> {
  const torn = Buffer.alloc(size - tornStart);
  await fh.read(torn, 0, torn.length, tornStart);
  const e = parseEntry(torn.toString('utf8'));
  const lastSeq = last?.seq ?? 0;
  if (
    e &&
    last &&
    e.seq === lastSeq + 1 &&
    e.prevHash === last.hash &&
    entryHash(e) === e.hash &&
    e.mac !== undefined &&
    d.key.checkMac(d.workspace, e.hash, e.mac)
  ) {
    // The complete, authentic next entry; only the newline is missing: keep it.
    await writeAll(fh, Buffer.from('\n'));
    return null;
  }
  const saved = path.join(d.files.dir, `audit.torn-${d.now().getTime()}.bin`);
  await writeFile(saved, torn, { mode: 0o600 });
  await fh.truncate(tornStart);
  d.logger.warn(
    `audit: torn last line in ${d.files.log} (${torn.length} bytes after seq ${lastSeq}); cut off, saved to ${saved} and recorded`,
  );
  return {
    type: 'audit.torn_tail',
    workspace: d.workspace,
    data: {
      afterSeq: lastSeq,
      offset: tornStart,
      bytes: torn.length,
      sha256: sha256Hex(torn),
      savedTo: path.basename(saved),
    },
  };
}

/** Moves the broken log (and its head) aside and starts a new segment with a `audit.chain_broken` entry. */
async function newSegment(
  d: OpenDeps,
  broken: Extract<TailState, { ok: false }>,
  headSeq: number | null,
): Promise<OpenedChain> {
  const stamp = d.now().getTime();
  const movedLog = path.join(d.files.dir, `audit.broken-${stamp}.jsonl`);
  const movedHead = path.join(d.files.dir, `audit.broken-${stamp}.head.json`);
  await rename(d.files.log, movedLog);
  const headMoved = await rename(d.files.head, movedHead).then(
    () => true,
    () => false,
  );
  await fsyncDir(d.files.dir);
  const { sha256, bytes } = await sha256File(movedLog);
  const fh = await d.open(d.files.log);
  const seq = Math.max(broken.highestSeq, broken.lastSeq) + 1;
  const e = d.entry(seq, segmentGenesisHash(d.workspace, seq), {
    type: 'audit.chain_broken',
    workspace: d.workspace,
    data: {
      reason: broken.reason,
      seq: broken.seq,
      lastSeq: broken.lastSeq,
      headSeq,
      previous: { file: path.basename(movedLog), head: headMoved ? path.basename(movedHead) : null, bytes, sha256 },
    },
  });
  try {
    await writeAll(fh, Buffer.from(JSON.stringify(e) + '\n'));
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
  d.logger.error(
    `audit: ${d.files.log} does not verify (${broken.reason}${broken.seq !== null ? ` at seq ${broken.seq}` : ''}); not extended: moved to ${movedLog} and a new segment starts at seq ${seq} with a signed audit.chain_broken entry`,
  );
  return { fh, lastSeq: e.seq, lastHash: e.hash, unsigned: 1, signed: false };
}
