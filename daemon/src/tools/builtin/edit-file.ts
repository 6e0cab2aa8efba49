import { z } from 'zod';
import { lazySchema } from '@shadowbox/protocol';
import { ErrorCodes, ShadowboxError } from '../../errors.js';
import { defineTool } from '../define.js';
import { canonicalPath } from '../paths.js';
import { readTextFile } from './text.js';

/** Input of edit_file. */
export const EditFileInput = lazySchema(() =>
  z
    .object({
      path: z.string().min(1).describe('workspace-relative path of the file to edit'),
      old_string: z.string().min(1).describe('exact text to replace, including whitespace and indentation'),
      new_string: z.string().describe('text to put in its place (may be empty to delete)'),
      replace_all: z.boolean().default(false).describe('replace every occurrence instead of exactly one'),
      expected_count: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe('the number of occurrences old_string must have (default 1; with replace_all, any number)'),
    })
    .strict(),
);

const DESCRIPTION =
  'Replace exact text in a file. `old_string` must appear exactly once (or exactly `expected_count` times; or any number of times with `replace_all`), matched byte for byte including whitespace and indentation; otherwise nothing changes and the error says how many matches were found and where. Read the file first and copy the text exactly. The edit lands in the shadow workspace for review.';

/** `edit_file`: exact, counted string replacement. */
export function createEditFileTool() {
  return defineTool({
    name: 'edit_file',
    kind: 'edit',
    description: DESCRIPTION,
    input: EditFileInput,
    targets: (i) => ({ paths: [i.path] }),
    summarize: (i) =>
      `${i.path}${i.replace_all ? ' (all)' : ''}: ${JSON.stringify(i.old_string.split('\n')[0].slice(0, 40))}`,
    handler: async (i, ctx) => {
      const path = await canonicalPath(ctx.view, i.path, 'write');
      if (i.old_string === i.new_string)
        throw new ShadowboxError(
          ErrorCodes.ToolInputInvalid,
          'no_change',
          'old_string and new_string are the same; nothing to change.',
        );
      const { text, mode } = await readTextFile(ctx.view, path, 'edit_file');
      const at = occurrences(text, i.old_string);
      if (at.length === 0) {
        throw new ShadowboxError(
          ErrorCodes.EditMismatch,
          'no_match',
          `old_string was not found in ${path}. Read the file again with read_file and copy the exact text, including whitespace, indentation and line breaks.${hintCase(text, i.old_string)}`,
          { path, matches: 0 },
        );
      }
      const lines = at.map((k) => lineOf(text, k));
      const want = i.expected_count ?? (i.replace_all ? undefined : 1);
      if (want !== undefined && at.length !== want) {
        const where = `line${lines.length > 1 ? 's' : ''} ${lines.slice(0, 10).join(', ')}${lines.length > 10 ? ', ...' : ''}`;
        const fix =
          want === 1
            ? 'Include more surrounding lines in old_string to make it unique, or set replace_all: true to replace them all.'
            : `Set expected_count to ${at.length} or change old_string.`;
        throw new ShadowboxError(
          ErrorCodes.EditMismatch,
          want === 1 ? 'not_unique' : 'count_mismatch',
          `old_string matches ${at.length} times in ${path} (${where}), expected ${want}. ${fix}`,
          { path, matches: at.length, expected: want },
        );
      }
      const next = text.split(i.old_string).join(i.new_string);
      await ctx.view.writeFile(path, next, { mode });
      return {
        content: `Edited ${path}: replaced ${at.length} occurrence${at.length > 1 ? 's' : ''} (line${lines.length > 1 ? 's' : ''} ${lines.slice(0, 10).join(', ')}${lines.length > 10 ? ', ...' : ''}).`,
        changed: [path],
        data: { replacements: at.length, lines },
      };
    },
  });
}

/** Start offsets of non-overlapping occurrences. */
function occurrences(text: string, needle: string): number[] {
  const out: number[] = [];
  for (let k = text.indexOf(needle); k >= 0; k = text.indexOf(needle, k + needle.length)) out.push(k);
  return out;
}

function lineOf(text: string, offset: number): number {
  let n = 1;
  for (let k = text.indexOf('\n'); k >= 0 && k < offset; k = text.indexOf('\n', k + 1)) n++;
  return n;
}

function hintCase(text: string, needle: string): string {
  if (text.toLowerCase().includes(needle.toLowerCase()))
    return ' (It matches when ignoring case: check capitalisation.)';
  if (text.includes('\r\n') && needle.includes('\n') && !needle.includes('\r\n'))
    return ' (The file uses CRLF line endings.)';
  const trimmed = needle.trim();
  if (trimmed && trimmed !== needle && text.includes(trimmed))
    return ' (It matches without its leading/trailing whitespace: check indentation.)';
  return '';
}
