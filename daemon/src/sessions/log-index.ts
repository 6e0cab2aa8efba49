// What a start needs from an idle session's event log, kept beside it.
//
// Why: every start read and parsed every session's whole event log to fold its summary, count its prompts, find
// its next seq and end a turn a crash left open. That grows with a person's history: 100 sessions of 1,245
// events (45 MB) made each start ~0.9–1.3 s, where a state dir without sessions is ready in ~0.2 s. A log is
// append-only and written only by the daemon, so what that fold found is kept in `log-index.json`, keyed by
// the log's (inode, size, mtime): while the log is exactly the one it describes, the next start reads this file
// instead. It is written only for a session with nothing in flight (no turn, no direct call, every event on
// disk), so a session it describes needs no recovery. A cache: written without fsync, and a torn, foreign or
// stale file (a log appended since, by a daemon that then crashed) means the log is read whole, as before.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { InstructionFile, PlanItem, Usage, lazySchema } from '@shadowbox/protocol';
import { readJsonFileOrNull, writeFileAtomic } from '../state/index.js';
import type { SessionSummary } from './summary.js';

export const LOG_INDEX_FILE = 'log-index.json';

/** The fold of a log up to `size` bytes, and the log's identity then. */
export interface LogIndex {
  ino: number;
  size: number;
  mtimeNs: bigint;
  /** The seq the next event gets. */
  nextSeq: number;
  prompts: number;
  /** The session's last activity (meta.updatedAt or its last event's time, the later). */
  updatedAt: string;
  summary: SessionSummary;
}

const IndexSchema = lazySchema(() =>
  z.object({
    v: z.literal(1),
    ino: z.number().int().min(0),
    size: z.number().int().min(0),
    mtimeNs: z.string().regex(/^\d+$/),
    nextSeq: z.number().int().min(0),
    prompts: z.number().int().min(0),
    updatedAt: z.string(),
    summary: z.object({
      usage: Usage().optional(),
      plan: z.array(PlanItem()).optional(),
      instructions: z.array(InstructionFile()).optional(),
      context: z.object({ tokens: z.number(), window: z.number() }).optional(),
    }),
  }),
);

/**
 * The index of the log `eventsFile`, when there is one and the log is still the one it describes (same inode,
 * size and mtime); null otherwise (the log must be read whole).
 */
export async function readLogIndex(eventsFile: string): Promise<LogIndex | null> {
  const [index, st] = await Promise.all([
    readJsonFileOrNull(path.join(path.dirname(eventsFile), LOG_INDEX_FILE), IndexSchema()),
    stat(eventsFile, { bigint: true }).catch(() => null),
  ]);
  if (index === null || st === null || !st.isFile()) return null;
  const { v: _v, mtimeNs, summary, ...rest } = index;
  if (BigInt(rest.ino) !== st.ino || BigInt(rest.size) !== st.size || BigInt(mtimeNs) !== st.mtimeNs) return null;
  return { ...rest, mtimeNs: BigInt(mtimeNs), summary };
}

/** Writes the index of `eventsFile` as it is now on disk (its stat taken here); a failure costs a full read later. */
export async function writeLogIndex(
  eventsFile: string,
  fold: { nextSeq: number; prompts: number; updatedAt: string; summary: SessionSummary },
): Promise<void> {
  const st = await stat(eventsFile, { bigint: true }).catch(() => null);
  if (st === null || !st.isFile()) return;
  const body = {
    v: 1,
    ino: Number(st.ino),
    size: Number(st.size),
    mtimeNs: String(st.mtimeNs),
    ...fold,
  };
  await writeFileAtomic(path.join(path.dirname(eventsFile), LOG_INDEX_FILE), `${JSON.stringify(body)}\n`, {
    durability: 'none',
  }).catch(() => undefined);
}
