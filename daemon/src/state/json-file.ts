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
  if (text === null) return null;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return null;
  }
  const parsed = schema.safeParse(json, ONCE);
  return parsed.success ? parsed.data : null;
}
