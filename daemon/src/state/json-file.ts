import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { ONCE } from './parse-once.js';

/**
 * A JSON file checked by `schema`, or null when it is missing, unreadable, not JSON or not of that shape: for files
 * a crash, a torn write or another program may leave behind (the lock, kept hashes, a session's log index), which
 * are then taken as absent. Parsed once, without zod's compiled fast path (parse-once.ts).
 */
export async function readJsonFileOrNull<T>(file: string, schema: z.ZodType<T>): Promise<T | null> {
  const text = await readFile(file, 'utf8').catch(() => null);
  return text === null ? null : parseOrNull(text, schema);
}

/**
 * The same, read synchronously: for a daemon's start, before it listens, when nothing waits on its event loop (an
 * async read is a thread-pool round trip: ~0.6 ms on a small VM, against ~0.15 ms).
 */
export function readJsonFileOrNullSync<T>(file: string, schema: z.ZodType<T>): T | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  return parseOrNull(text, schema);
}

function parseOrNull<T>(text: string, schema: z.ZodType<T>): T | null {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = schema.safeParse(json, ONCE);
  return parsed.success ? parsed.data : null;
}
