import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { AuditEntry } from '@shadowbox/protocol';
import { workspaceStateDir } from '../state/index.js';
import type { Entry } from './canonical.js';

/** Where a workspace's audit log and its latest signed checkpoint live. */
export function auditFiles(stateDir: string, workspace: string): { dir: string; log: string; head: string } {
  const dir = workspaceStateDir(stateDir, workspace);
  return { dir, log: path.join(dir, 'audit.jsonl'), head: path.join(dir, 'audit.head.json') };
}

/** Parses one log line as an entry, or null. */
export function parseEntry(line: string): Entry | null {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return null;
  }
  const r = AuditEntry().safeParse(raw);
  return r.success ? r.data : null;
}

export interface TailScan {
  /** Offset of an unterminated last line (a write torn by a crash), or null. */
  tornStart: number | null;
  /** The last complete line that is a well-formed entry. */
  last: Entry | null;
}

/** Reads the log backwards in chunks until it finds the last complete entry (cheap on big logs). */
export async function scanTail(fh: FileHandle, size: number): Promise<TailScan> {
  const CHUNK = 64 * 1024;
  let buf = Buffer.alloc(0);
  let start = size;
  let tornStart: number | null = null;
  let tornKnown = size === 0;
  while (start > 0) {
    const from = Math.max(0, start - CHUNK);
    const chunk = Buffer.alloc(start - from);
    await fh.read(chunk, 0, chunk.length, from);
    buf = Buffer.concat([chunk, buf]);
    start = from;
    const lastNl = buf.lastIndexOf(0x0a);
    if (!tornKnown) {
      if (buf[buf.length - 1] === 0x0a) tornKnown = true;
      else if (lastNl >= 0 || start === 0) {
        tornStart = start + lastNl + 1;
        tornKnown = true;
      } else continue;
    }
    // Complete lines: from the first line start we are sure of, up to the last newline.
    const end = lastNl;
    if (end < 0) continue;
    const lines = buf.subarray(0, end).toString('utf8').split('\n');
    const firstSure = start === 0 ? 0 : 1;
    for (let i = lines.length - 1; i >= firstSure; i--) {
      const e = lines[i] ? parseEntry(lines[i]) : null;
      if (e) return { tornStart, last: e };
    }
  }
  return { tornStart, last: null };
}

/** Writes the whole buffer (a regular file can still take a short write). */
export async function writeAll(fh: FileHandle, data: Buffer): Promise<void> {
  let off = 0;
  while (off < data.length) {
    const { bytesWritten } = await fh.write(data, off, data.length - off);
    off += bytesWritten;
  }
}

/** The end of a log as complete lines, oldest first, reaching back to the newest checkpoint line and the entry it signs. */
export interface TailWindow {
  lines: string[];
  /** True when `lines` begin at the start of the file (no checkpoint was found on the way). */
  fromStart: boolean;
}

const isCheckpointLine = (l: string) => l.startsWith('{"checkpoint"');

/**
 * Reads the log backwards from `end` until it holds the newest checkpoint line and an entry before it, or
 * the start of the file. Null when that takes more than `maxBytes` (a log whose checkpoints were stripped:
 * the caller verifies it from the start instead).
 */
export async function tailWindow(fh: FileHandle, end: number, maxBytes = 64 * 1024 * 1024): Promise<TailWindow | null> {
  const CHUNK = 64 * 1024;
  let buf = Buffer.alloc(0);
  let start = end;
  while (start > 0) {
    if (end - start > maxBytes) return null;
    const from = Math.max(0, start - CHUNK);
    const chunk = Buffer.alloc(start - from);
    await fh.read(chunk, 0, chunk.length, from);
    buf = Buffer.concat([chunk, buf]);
    start = from;
    const all = buf.toString('utf8').split('\n');
    if (all.at(-1) === '') all.pop();
    // The first piece is a whole line only at the start of the file.
    const complete = start === 0 ? all : all.slice(1);
    const cp = complete.findLastIndex(isCheckpointLine);
    if (cp > 0 && complete.slice(0, cp).some((l) => !isCheckpointLine(l) && parseEntry(l) !== null))
      return { lines: complete, fromStart: start === 0 };
  }
  const all = buf.toString('utf8').split('\n');
  if (all.at(-1) === '') all.pop();
  return { lines: all, fromStart: true };
}

/** The first line of the log as an entry (where its segment starts), or null. */
export async function firstEntry(fh: FileHandle): Promise<Entry | null> {
  const b = Buffer.alloc(64 * 1024);
  const { bytesRead } = await fh.read(b, 0, b.length, 0);
  const text = b.subarray(0, bytesRead).toString('utf8');
  const nl = text.indexOf('\n');
  return nl < 0 ? null : parseEntry(text.slice(0, nl));
}
