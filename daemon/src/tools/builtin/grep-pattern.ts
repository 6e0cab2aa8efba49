// grep's pattern goes to RE2 (the re2js port), whose matching time is linear in the input: no pattern
// can backtrack for ever. The model writes JavaScript syntax; this module translates it to RE2's and
// turns what RE2 refuses into a tool error that says what to write instead.
import { RE2JS } from 're2js';
import { ErrorCodes, ShadowboxError } from '../../errors.js';

/** A pattern ready for the grep worker: RE2 syntax plus re2js flags. */
export interface GrepPattern {
  source: string;
  flags: number;
  ignoreCase: boolean;
  /** The UTF-8 bytes of a pattern that is a plain string (case-sensitive), for a quick skip of files without it. */
  literal?: Buffer;
}

const LOOKAROUND_HINT =
  'Match the text itself instead (e.g. "foo(?=bar)" → "foobar", "(?<!x)foo" → "(^|[^x])foo", "^(?!.*test).*\\.ts$" → search "\\.ts$" and skip the test lines yourself), or search for a wider pattern and read the lines.';
const BACKREF_HINT =
  'Spell out the repeated text (e.g. "(\\w+) \\1" → "(\\w+) \\w+" and check the lines yourself), or use two simpler searches.';

/** Translates and compiles a grep pattern; a typed `ToolInputInvalid` error says why one cannot be used. */
export function compileGrepPattern(pattern: string, ignoreCase: boolean): GrepPattern {
  const unsupported = findUnsupported(pattern);
  if (unsupported === 'lookaround')
    throw refuse(
      `grep uses a linear-time regex engine (RE2 syntax), which has no lookahead or lookbehind ("(?=", "(?!", "(?<=", "(?<!"). ${LOOKAROUND_HINT}`,
      unsupported,
    );
  if (unsupported === 'backreference')
    throw refuse(
      `grep uses a linear-time regex engine (RE2 syntax), which has no backreferences ("\\1", "\\k<name>"). ${BACKREF_HINT}`,
      unsupported,
    );
  const flags = ignoreCase ? RE2JS.CASE_INSENSITIVE : 0;
  let source: string;
  try {
    source = RE2JS.translateRegExp(pattern);
    RE2JS.compile(source, flags);
  } catch (e) {
    const re2 = (e as Error).message.replace(/^error parsing regexp: /, '');
    try {
      new RegExp(pattern); // parses only; never runs the pattern
    } catch (js) {
      throw new ShadowboxError(
        ErrorCodes.ToolInputInvalid,
        'invalid_regex',
        `pattern is not a valid regular expression: ${(js as Error).message}. Escape special characters such as ( [ { . * + ? with a backslash.`,
        {},
        { cause: js },
      );
    }
    throw refuse(
      `pattern is valid JavaScript but grep's linear-time engine (RE2 syntax) refuses it: ${re2}. Repeat counts go up to {1000}; write a backspace as \\x08, not [\\b].`,
      'other',
      e,
    );
  }
  const literal = ignoreCase ? undefined : literalOf(pattern);
  return { source, flags, ignoreCase, ...(literal ? { literal: Buffer.from(literal, 'utf8') } : {}) };
}

/** The text a pattern stands for when it has no operator (escaped punctuation allowed), else undefined. */
function literalOf(p: string): string | undefined {
  let out = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      const n = p[++i] ?? '';
      if (!/^[!-/:-@[-`{-~]$/.test(n)) return undefined; // \d, \n, \u…: not plain text
      out += n;
    } else if ('^$.|?*+()[]{}'.includes(c)) return undefined;
    else out += c;
  }
  return out;
}

function refuse(message: string, feature: 'lookaround' | 'backreference' | 'other', cause?: unknown): ShadowboxError {
  return new ShadowboxError(
    ErrorCodes.ToolInputInvalid,
    'unsupported_regex',
    message,
    { feature },
    cause ? { cause } : undefined,
  );
}

/** Finds JavaScript-only syntax outside character classes: lookaround and backreferences. */
function findUnsupported(p: string): 'lookaround' | 'backreference' | undefined {
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      const n = p[i + 1] ?? '';
      if (!inClass && ((n >= '1' && n <= '9') || (n === 'k' && p[i + 2] === '<'))) return 'backreference';
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
    } else if (c === '(' && p[i + 1] === '?') {
      const a = p.slice(i + 2, i + 4);
      if (a[0] === '=' || a[0] === '!' || a === '<=' || a === '<!') return 'lookaround';
    }
  }
  return undefined;
}
