// A file name may hold a newline, a carriage return or a Unicode line separator (a hostile repository can make
// one). picomatch compiles globs to regexes whose `.` stops at those characters unless the `s` flag is set: a deny
// rule `secret/**` did not cover `secret/a\nb`, and `**/.env` missed `x\ny/.env` — the model could read them.
// Every path glob (deny rules, protected paths, the guard of restrictView and edit protection, grep's and glob's
// `glob`) matches such names like any other.
import { describe, expect, it } from 'vitest';
import { afterEach } from 'vitest';
import { compileGuardGlob } from '../glob-base.js';
import { makeWorkspace } from '../shadow/test-support.js';
import { restrictView } from '../tools/restricted-view.js';
import { DEFAULT_PROTECTED, decide, type PolicyInputs } from './decide.js';
import { matchPath } from './match.js';

const ODD = ['a\nb', 'a\rb', 'a\u2028b', 'a\u2029b', '\n', 'x\n'];

describe('path globs and names holding line breaks', () => {
  it('matchPath and the guards match them as they match any name (case-insensitive where asked)', () => {
    for (const n of ODD) {
      expect(matchPath('secret/**', `secret/${n}`)).toBe(true);
      expect(matchPath('SECRET/**', `secret/${n}`, { nocase: true })).toBe(true);
      expect(matchPath('**/.env', `${n}/.env`)).toBe(true);
      expect(matchPath('**/*.pem', `${n}/k.pem`)).toBe(true);
      expect(compileGuardGlob('secret/**').test(`SECRET/${n}/k`)).toBe(true);
      // `*` still stops at a slash, and nocase still applies.
      expect(matchPath('secret/*', `secret/${n}/deeper`)).toBe(false);
      expect(matchPath('Secret/*', `secret/${n}`)).toBe(false);
    }
  });

  it('a deny rule refuses reading them; protected paths refuse editing them', () => {
    const i: PolicyInputs = {
      rules: [{ id: 'd', action: 'deny', path: 'secret/**' }],
      grants: [],
      protectedPaths: DEFAULT_PROTECTED,
    };
    for (const n of ODD) {
      const target = { paths: [`secret/${n}`] };
      expect(decide({ mode: 'review', tool: 'read_file', kind: 'read', target }, i).action).toBe('deny');
      const git = { paths: [`.git/${n}`] };
      expect(decide({ mode: 'review', tool: 'write_file', kind: 'edit', target: git }, i).action).toBe('deny');
    }
  });
});

describe('restrictView over a real workspace with such names', () => {
  let ws: ReturnType<typeof makeWorkspace> | null = null;
  afterEach(async () => {
    await ws?.cleanup();
    ws = null;
  });

  it('refuses reading a denied file whose name holds a newline, and leaves it out of listings', async () => {
    ws = makeWorkspace(
      { 'secret/a\nb': 'TOP SECRET\n', 'secret/plain': 'also secret\n', 'pub/x': 'x\n' },
      { git: false },
    );
    const view = restrictView(await ws.open().view('s', ws.root), [{ glob: 'secret/**', rule: 'project:deny' }]);
    await expect(view.readFile('secret/a\nb')).rejects.toMatchObject({ data: { reason: 'path_denied' } });
    await expect(view.readFile('secret/plain')).rejects.toMatchObject({ data: { reason: 'path_denied' } });
    expect(await view.readdir('secret').catch(() => [])).toEqual([]);
  });
});
