import { describe, expect, it } from 'vitest';
import { applyEdits, expectedLine, hunkEdit, locateHunk, placeRange, splitHunk, toLines } from './hunks.js';

const FILE = ['one', 'two', 'three', 'four', 'five', 'six', 'seven'].map((l) => `${l}\n`).join('');
// "three" → "THREE" with three lines of context, as the daemon's diff gives it.
const H = { oldStart: 1, oldLines: 6, lines: [' one', ' two', '-three', '+THREE', ' four', ' five', ' six'] };

const acceptInto = (text: string, h: { oldStart: number; oldLines: number; lines: string[] }) => {
  const t = toLines(text);
  const b = splitHunk(h.lines);
  const p = locateHunk(t, b, expectedLine(h));
  if (!p || p.state !== 'pending') return null;
  return applyEdits(text, [hunkEdit(t, b, p)]);
};

describe('splitHunk', () => {
  it('splits context, removed and added lines and counts the context around the change', () => {
    expect(splitHunk(H.lines)).toEqual({
      old: ['one', 'two', 'three', 'four', 'five', 'six'],
      new: ['one', 'two', 'THREE', 'four', 'five', 'six'],
      lead: 2,
      trail: 3,
      oldNoEol: false,
      newNoEol: false,
    });
  });
  it('reads "\\ No newline at end of file" for the side of the line before it', () => {
    expect(splitHunk(['-a', '\\ No newline at end of file', '+b'])).toMatchObject({ oldNoEol: true, newNoEol: false });
    expect(splitHunk(['-a', '+b', '\\ No newline at end of file'])).toMatchObject({ oldNoEol: false, newNoEol: true });
    expect(splitHunk([' a', '+b', ' c', '\\ No newline at end of file'])).toMatchObject({
      oldNoEol: true,
      newNoEol: true,
      lead: 1,
      trail: 1,
    });
  });
});

describe('locateHunk', () => {
  it('finds a pending hunk where the diff put it, and its changed line only', () => {
    const t = toLines(FILE);
    const p = locateHunk(t, splitHunk(H.lines), expectedLine(H));
    expect(p).toEqual({ state: 'pending', line: 2, count: 1 });
    expect(placeRange(t, p!)).toEqual({ start: { line: 2, character: 0 }, end: { line: 2, character: 5 } });
  });
  it('follows the lines when the person inserted lines above them (an unsaved buffer)', () => {
    const t = toLines(`added 1\nadded 2\n${FILE}`);
    expect(locateHunk(t, splitHunk(H.lines), expectedLine(H))).toEqual({ state: 'pending', line: 4, count: 1 });
  });
  it('says applied when the buffer already holds the agent version', () => {
    const t = toLines(FILE.replace('three', 'THREE'));
    expect(locateHunk(t, splitHunk(H.lines), expectedLine(H))).toEqual({ state: 'applied', line: 2, count: 1 });
  });
  it('drops context like patch fuzz when the person edited a context line', () => {
    const t = toLines(FILE.replace('one', 'uno'));
    expect(locateHunk(t, splitHunk(H.lines), expectedLine(H))).toEqual({ state: 'pending', line: 2, count: 1 });
  });
  it('is null when the changed line itself was edited', () => {
    expect(locateHunk(toLines(FILE.replace('three', 'tres')), splitHunk(H.lines), expectedLine(H))).toBeNull();
  });
  it('prefers the occurrence nearest to where the diff put it', () => {
    const text = 'x\ny\nx\ny\nx\ny\n';
    const h = { oldStart: 3, oldLines: 2, lines: ['-x', ' y'] };
    expect(locateHunk(toLines(text), splitHunk(h.lines), expectedLine(h))).toMatchObject({ line: 2 });
  });
});

describe('hunkEdit', () => {
  it('replaces only the changed line, keeping the rest of the buffer as it is', () => {
    const buffer = `mine, unsaved\n${FILE}`;
    const t = toLines(buffer);
    const b = splitHunk(H.lines);
    const e = hunkEdit(t, b, locateHunk(t, b, expectedLine(H))!);
    expect(e).toEqual({
      range: { start: { line: 3, character: 0 }, end: { line: 4, character: 0 } },
      newText: 'THREE\n',
    });
    expect(applyEdits(buffer, [e])).toBe(`mine, unsaved\n${FILE.replace('three', 'THREE')}`);
  });
  it('inserts at the start, deletes in the middle, appends at the end', () => {
    expect(acceptInto('a\nb\n', { oldStart: 1, oldLines: 2, lines: ['+new', ' a', ' b'] })).toBe('new\na\nb\n');
    expect(acceptInto('a\nb\nc\n', { oldStart: 1, oldLines: 3, lines: [' a', '-b', ' c'] })).toBe('a\nc\n');
    expect(acceptInto('a\nb\n', { oldStart: 1, oldLines: 2, lines: [' a', ' b', '+c', '+d'] })).toBe('a\nb\nc\nd\n');
  });
  it('handles the last line without a line break, on either side', () => {
    expect(
      acceptInto('a\nb', { oldStart: 1, oldLines: 2, lines: [' a', '-b', '\\ No newline at end of file', '+B'] }),
    ).toBe('a\nB\n');
    expect(
      acceptInto('a\nb\n', { oldStart: 1, oldLines: 2, lines: [' a', '-b', '+B', '\\ No newline at end of file'] }),
    ).toBe('a\nB');
    expect(acceptInto('', { oldStart: 0, oldLines: 0, lines: ['+x', '+y'] })).toBe('x\ny\n');
  });
  it('keeps CRLF line breaks', () => {
    expect(acceptInto('a\r\nb\r\nc\r\n', { oldStart: 1, oldLines: 3, lines: [' a', '-b', '+B', '+B2', ' c'] })).toBe(
      'a\r\nB\r\nB2\r\nc\r\n',
    );
  });
  it('accepting every hunk of a file, one edit each, gives the agent version', () => {
    const old = Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
    const hunks = [
      { oldStart: 1, oldLines: 4, lines: [' line 1', '-line 2', '+LINE 2', ' line 3', ' line 4'] },
      {
        oldStart: 17,
        oldLines: 7,
        lines: [' line 17', ' line 18', ' line 19', '-line 20', ' line 21', ' line 22', ' line 23'],
      },
      { oldStart: 27, oldLines: 4, lines: [' line 27', ' line 28', ' line 29', ' line 30', '+line 31'] },
    ];
    const t = toLines(`// unsaved\n${old}`);
    const edits = hunks.map((h) => {
      const b = splitHunk(h.lines);
      return hunkEdit(t, b, locateHunk(t, b, expectedLine(h))!);
    });
    const want = old.replace('line 2\n', 'LINE 2\n').replace('line 20\n', '') + 'line 31\n';
    expect(applyEdits(`// unsaved\n${old}`, edits)).toBe(`// unsaved\n${want}`);
  });
});
