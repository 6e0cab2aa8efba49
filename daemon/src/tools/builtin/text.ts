import { ErrorCodes, ShadowboxError } from '../../errors.js';
import type { WorkspaceView } from '../../shadow/index.js';

/** Largest file the text tools read whole (read_file, edit_file); grep skips larger files. */
export const MAX_TEXT_FILE_BYTES = 16 * 1024 * 1024;

// What a printed name may not hold, or a listing's lines could be forged by it: control characters (C0, DEL, C1),
// line and paragraph separators, invisible and direction-changing characters (zero-width, bidi controls, BOM,
// variation selectors, Hangul and Braille fillers, tag characters), whitespace other than a plain space (a
// no-break space before `(2 bytes)`), a colon of any width (grep's `path:line: text` — `.gitignore:1: x` as a name
// passed for a match in .gitignore), list_dir's suffixes (` -> `, ` (`), and whitespace at either end (a name `  x`
// passed for an entry one level deeper).
const INVISIBLE =
  '\\u007f-\\u009f\\u00ad\\u034f\\u061c\\u115f\\u1160\\u17b4\\u17b5\\u180b-\\u180f\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u206f' +
  '\\u2800\\u3164\\ufe00-\\ufe0f\\uffa0\\ufeff\\u{1d173}-\\u{1d17a}\\u{e0000}-\\u{e0fff}';
const COLONS = ':\\u02d0\\u02f8\\u0589\\u05c3\\u2236\\ua789\\ufe13\\ufe55\\uff1a';
// eslint-disable-next-line no-misleading-character-class -- the joiners and variation selectors are listed on purpose
const UNPRINTABLE = new RegExp(`[\\u0000-\\u001f${INVISIBLE}${COLONS}]|[^\\S ]|^"|^\\s|\\s$| -> | \\(`, 'u');
// eslint-disable-next-line no-misleading-character-class -- as above
const ESCAPE = new RegExp(`[${INVISIBLE}]|[^\\S \\n\\r\\t\\f\\v]`, 'gu');

/**
 * A workspace path as the text tools print it (grep, glob, list_dir): as it is, or — when it holds something a
 * listing's syntax or a reader's eye could take for something else (above), or starts with `"` — as a JSON string
 * literal (`"x\n.gitignore"`, `".gitignore:1: x"`), with the invisible characters and unusual spaces escaped too,
 * which a model reads back exactly and which no other printed path can be. A repository's file names are the
 * person's (or a hostile clone's); printed raw, a newline in one forged a line of the listing.
 */
export function printablePath(path: string): string {
  if (!UNPRINTABLE.test(path)) return path;
  // Each UTF-16 unit of an escaped character as \uXXXX (a character past U+FFFF as its surrogate pair, as JSON has it).
  return JSON.stringify(path).replace(ESCAPE, (c) =>
    [...Array(c.length).keys()].map((k) => `\\u${c.charCodeAt(k).toString(16).padStart(4, '0')}`).join(''),
  );
}

/** True for bytes that look binary: a NUL in the first 8 KiB (git's heuristic). */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.byteLength, 8192);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

/** Reads a workspace file as UTF-8 text; a clear typed error for a missing path, a directory, a binary or a huge file. */
export async function readTextFile(
  view: WorkspaceView,
  path: string,
  tool: string,
): Promise<{ text: string; mode: number }> {
  const st = await view.stat(path);
  if (!st)
    throw new ShadowboxError(
      ErrorCodes.FileNotFound,
      'not_found',
      `${path} does not exist. Use list_dir or glob to find the right path.`,
      { path },
    );
  if (st.type === 'dir')
    throw new ShadowboxError(
      ErrorCodes.NotAFile,
      'is_directory',
      `${path} is a directory; use list_dir to see what it contains.`,
      { path },
    );
  if (st.size > MAX_TEXT_FILE_BYTES)
    throw new ShadowboxError(
      ErrorCodes.NotAFile,
      'too_large',
      `${path} is ${st.size} bytes, more than ${tool} handles (${MAX_TEXT_FILE_BYTES}); use grep to find the part you need.`,
      { path, size: st.size },
    );
  const bytes = await view.readFile(path);
  if (looksBinary(bytes))
    throw new ShadowboxError(
      ErrorCodes.NotAFile,
      'binary_file',
      `${path} is a binary file (${bytes.byteLength} bytes); ${tool} works on text files only.`,
      { path, size: bytes.byteLength },
    );
  return { text: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'), mode: st.mode };
}

/** Creates the missing parent directories of a path, top down. */
export async function ensureParentDirs(view: WorkspaceView, path: string): Promise<void> {
  const parts = path.split('/').slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    const st = await view.stat(dir);
    if (st?.type === 'dir') continue;
    if (st)
      throw new ShadowboxError(
        ErrorCodes.NotAFile,
        'parent_not_directory',
        `cannot create ${path}: ${dir} is a file, not a directory.`,
        { path, parent: dir },
      );
    await view.mkdir(dir);
  }
}

/** Number of lines in a text ("" has 0; a trailing newline does not start a new line). */
export function lineCount(text: string): number {
  if (text === '') return 0;
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return text.endsWith('\n') ? n - 1 : n;
}
