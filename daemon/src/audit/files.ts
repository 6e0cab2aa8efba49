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
  const r = AuditEntry.safeParse(raw);
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
