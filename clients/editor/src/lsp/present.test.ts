import { describe, expect, it } from 'vitest';
import { toLines } from './hunks.js';
import { clean, diagnosticsOf, hoverOf, viewFile, wholeChange } from './present.js';
import { hunk, modified } from './test-support.js';
import { createWorkspaceUris } from './workspace-uris.js';

describe('workspace URIs', () => {
  const uris = createWorkspaceUris('/home/me/proj', '/srv/real/proj');
  it('maps plain relative paths under the editor root, and URIs under either root back', () => {
    expect(uris.uriOf('src/a b.ts')).toBe('file:///home/me/proj/src/a%20b.ts');
    expect(uris.relOf('file:///home/me/proj/src/a%20b.ts')).toBe('src/a b.ts');
    expect(uris.relOf('file:///srv/real/proj/src/x.ts')).toBe('src/x.ts');
    expect(uris.uriOf('..foo')).toBe('file:///home/me/proj/..foo');
  });
  it('refuses paths a hostile diff could use to name a buffer outside the workspace', () => {
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a/./b', 'a//b', '', 'dir/', 'nul\0.txt', '..', '.'])
      expect(uris.uriOf(bad), bad).toBeNull();
    for (const bad of ['file:///home/me/other/a.ts', 'file:///home/me/proj', 'untitled:Untitled-1', 'http://x/a.ts'])
      expect(uris.relOf(bad), bad).toBeNull();
  });
});

describe('presentation', () => {
  it('describes whole-file changes in one sentence', () => {
    const base = { binary: false, stale: false, patch: '', hunks: [] };
    expect(wholeChange({ ...base, path: 'x', change: 'deleted' })).toBe('agent deletes this file');
    expect(wholeChange({ ...base, path: 'x', change: 'modified', binary: true })).toBe(
      'agent changes this binary file',
    );
    expect(wholeChange({ ...base, path: 'x', change: 'modified', oldMode: 0o644, newMode: 0o755 })).toBe(
      'agent changes the file mode 644 → 755',
    );
    expect(wholeChange(modified('x', [hunk('x', 1, ['-a', '+b'])]))).toBeNull();
  });
  it('keeps control characters and long lines of the agent out of messages and hovers', () => {
    expect(clean('\u001b[31mred\u0007 text')).toBe('[31mred  text');
    expect(clean('x'.repeat(100))).toHaveLength(60);
    const h = hunk('a', 1, ['-\tindented', '+\u001b]8;;http://evil\u0007link']);
    const v = viewFile(modified('a', [h]), toLines('\tindented\n'));
    const md = hoverOf(v.hunks[0], false);
    expect(md).toContain('-\tindented');
    expect(md).not.toMatch(/[\u0000-\u0008\u001b\u007f]/);
    expect(diagnosticsOf(v)[0].message).toBe('agent replaces 1 line with 1 line: "indented" → "]8;;http://evil link"');
  });
  it('a stale file says that accepting merges; a hunk whose lines were edited says so and stays where the diff put it', () => {
    const h = hunk('a', 1, [' one', '-two', '+TWO', ' three']);
    const stale = viewFile(modified('a', [h], true), toLines('zero\none\ntwo\nthree\n'));
    expect(diagnosticsOf(stale)[0]).toMatchObject({
      range: { start: { line: 2 } },
      message:
        'agent replaces 1 line with 1 line: "two" → "TWO" (you changed this file since the agent read it: accepting merges)',
    });
    const lost = viewFile(modified('a', [h]), toLines('one\n2\nthree\n'));
    expect(diagnosticsOf(lost)[0]).toMatchObject({
      range: { start: { line: 1 } },
      message: 'agent replaces 1 line with 1 line: "two" → "TWO" (the lines it replaces were edited since)',
    });
  });
  it('places hunks of a file that is not open from their own lines (a sketch of the saved file)', () => {
    const v = viewFile(modified('a', [hunk('a', 10, [' x', '-y', '+Y', ' z']), hunk('a', 40, [' p', '+q'])]), null);
    // The second appends at the end of the file (no context after it): shown on the last line, "p".
    expect(v.hunks.map((h) => [h.place?.state, h.range.start.line, h.range.end.character])).toEqual([
      ['pending', 10, 1],
      ['pending', 39, 1],
    ]);
  });
});
