// A write_file permission question shows what the write would change, not only the new content: the diff
// against the file as the agent has it now (shadow/file), as the web page's card does. jsdiff makes the hunks.
import { structuredPatch } from 'diff';
import { ShadowFile, type ParamsOf, type PermissionRequest } from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import { hunkLines } from './diff-format.js';
import { languageFor } from './highlight.js';
import type { Colors } from './io.js';

/** What a question previews in place of an argument: the argument it replaces and the lines shown instead. */
export interface Preview {
  replaces: string;
  title: string;
  lines: string[];
}

/** The diff a write would make (colored, at most `max` lines), or null when the question is not a write. */
export function writePreview(
  path: string,
  current: string | null,
  content: string,
  c: Colors,
  max = 40,
): Preview | null {
  const patch = structuredPatch(path, path, current ?? '', content, '', '', { context: 2 });
  const lang = languageFor(path);
  const lines: string[] = [];
  for (const h of patch.hunks) {
    lines.push(c.cyan(`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`));
    lines.push(...hunkLines(h.lines, c, lang));
  }
  const shown = lines.slice(0, max).map((l) => `      ${l}`);
  if (lines.length > max) shown.push(c.dim(`      … ${lines.length - max} more lines`));
  const title =
    current === null
      ? 'change (a new file):'
      : patch.hunks.length === 0
        ? 'change: none (the file already holds this content)'
        : 'change (against the file as the agent has it now):';
  return { replaces: 'content', title, lines: shown };
}

/** Loads the file a write_file question is about and previews the write; null for other questions or on failure. */
export async function questionPreview(
  client: ShadowboxClient,
  q: ParamsOf<typeof PermissionRequest>,
  c: Colors,
): Promise<Preview | null> {
  const input = q.input as Record<string, unknown> | null;
  if (q.tool !== 'write_file' || !input || typeof input.path !== 'string' || typeof input.content !== 'string')
    return null;
  const { path, content } = input as { path: string; content: string };
  try {
    const file = await client.request(ShadowFile, { sessionId: q.sessionId, path });
    if (file.binary) return null;
    return writePreview(path, file.shadow, content, c);
  } catch {
    return null; // the content itself is shown then, as before
  }
}
