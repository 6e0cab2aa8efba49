import { describe, expect, it } from 'vitest';
import type { ToolKind } from '../tools/define.js';
import { DEFAULT_PROTECTED, decide, grantRulesFor, type PolicyInputs, type PolicyMode } from './decide.js';

const none: PolicyInputs = { rules: [], grants: [], protectedPaths: DEFAULT_PROTECTED };
const call = (
  mode: PolicyMode,
  tool: string,
  kind: ToolKind,
  target: { paths?: string[]; hosts?: string[]; port?: number } = {},
) => ({
  mode,
  tool,
  kind,
  target,
});
const KINDS: ToolKind[] = ['read', 'search', 'edit', 'delete', 'move', 'execute', 'fetch', 'think', 'other'];

describe('mode defaults', () => {
  const expected: Record<PolicyMode, Record<ToolKind, string>> = {
    'read-only': {
      read: 'allow',
      search: 'allow',
      edit: 'deny',
      delete: 'deny',
      move: 'deny',
      execute: 'deny',
      fetch: 'deny',
      think: 'allow',
      other: 'deny',
    },
    review: {
      read: 'allow',
      search: 'allow',
      edit: 'allow',
      delete: 'allow',
      move: 'allow',
      execute: 'allow',
      fetch: 'ask',
      think: 'allow',
      other: 'ask',
    },
    auto: {
      read: 'allow',
      search: 'allow',
      edit: 'allow',
      delete: 'allow',
      move: 'allow',
      execute: 'allow',
      fetch: 'allow',
      think: 'allow',
      other: 'allow',
    },
  };
  for (const mode of Object.keys(expected) as PolicyMode[]) {
    for (const kind of KINDS) {
      it(`${mode} × ${kind} → ${expected[mode][kind]}`, () => {
        const d = decide(call(mode, 'some_tool', kind, { paths: ['src/a.ts'] }), none);
        expect(d.action).toBe(expected[mode][kind]);
        expect(d.rule).toBe(`mode:${mode} kind:${kind}`);
      });
    }
  }

  it('MCP tools run on the host: review asks and read-only denies even when they claim to read', () => {
    expect(decide(call('review', 'mcp__gh__list_issues', 'read'), none)).toEqual({
      action: 'ask',
      rule: 'mode:review tool=mcp__*',
    });
    expect(decide(call('read-only', 'mcp__gh__list_issues', 'read'), none)).toEqual({
      action: 'deny',
      rule: 'mode:read-only tool=mcp__*',
    });
    expect(decide(call('auto', 'mcp__gh__list_issues', 'other'), none).action).toBe('allow');
  });
});

describe('protected paths', () => {
  for (const p of [
    '.git/config',
    '.git',
    'sub/module/.git/HEAD',
    '.GIT/config',
    '.shadowbox/policy.json',
    './.git/hooks/pre-commit',
    'src/../.git/config',
  ]) {
    it(`writing ${p} is denied in every mode`, () => {
      for (const mode of ['review', 'auto'] as const) {
        for (const kind of ['edit', 'delete', 'move', 'execute', 'other'] as const) {
          const d = decide(call(mode, 'write_file', kind, { paths: [p] }), none);
          expect(d.action, `${mode} ${kind}`).toBe('deny');
          expect(d.rule).toMatch(/^protected:/);
        }
      }
    });
  }

  it('reading a protected path is allowed; a look-alike name is not protected', () => {
    expect(decide(call('review', 'read_file', 'read', { paths: ['.git/config'] }), none).action).toBe('allow');
    expect(decide(call('review', 'write_file', 'edit', { paths: ['.gitignore'] }), none).action).toBe('allow');
    expect(decide(call('review', 'write_file', 'edit', { paths: ['my.git/x'] }), none).action).toBe('allow');
  });

  it('a move touching a protected path on either side is denied', () => {
    expect(
      decide(call('auto', 'move_file', 'move', { paths: ['notes.txt', '.git/hooks/post-checkout'] }), none).rule,
    ).toBe('protected:**/.git/**');
  });

  it('protected beats an allow rule and a grant', () => {
    const inputs: PolicyInputs = {
      ...none,
      rules: [{ id: 'a', action: 'allow', path: '**' }],
      grants: [{ action: 'allow', tool: 'write_file' }],
    };
    expect(decide(call('auto', 'write_file', 'edit', { paths: ['.git/config'] }), inputs).action).toBe('deny');
  });

  it('configured protected globs apply', () => {
    const inputs: PolicyInputs = { ...none, protectedPaths: [...DEFAULT_PROTECTED, 'deploy/keys/**'] };
    expect(decide(call('auto', 'write_file', 'edit', { paths: ['deploy/keys/prod.pem'] }), inputs)).toEqual({
      action: 'deny',
      rule: 'protected:deploy/keys/**',
    });
  });

  it('paths that leave the workspace are denied outright, even for reads', () => {
    for (const p of ['../x', '/etc/passwd', 'a/../../x'])
      expect(decide(call('auto', 'read_file', 'read', { paths: [p] }), none)).toEqual({
        action: 'deny',
        rule: 'path:outside-workspace',
      });
  });
});

describe('rules', () => {
  it('deny beats ask beats allow, regardless of file order', () => {
    const rules = [
      { id: '1', action: 'allow' as const, tool: 'write_file' },
      { id: '2', action: 'ask' as const, path: 'src/**' },
      { id: '3', action: 'deny' as const, tool: 'write_file', path: 'secrets/**' },
    ];
    const i = { ...none, rules };
    expect(decide(call('review', 'write_file', 'edit', { paths: ['secrets/k'] }), i)).toEqual({
      action: 'deny',
      rule: 'project:deny tool=write_file path=secrets/**',
    });
    // (The write_file calls that may run still carry the deny rule's path: they stay out of secrets/.)
    expect(decide(call('review', 'write_file', 'edit', { paths: ['src/a.ts'] }), i)).toMatchObject({
      action: 'ask',
      rule: 'project:ask path=src/**',
      // An ask rule always asks: an allow for the session or project would change nothing, so none is offered.
      rememberable: false,
    });
    expect(decide(call('review', 'write_file', 'edit', { paths: ['README.md'] }), i)).toMatchObject({
      action: 'allow',
      rule: 'project:allow tool=write_file',
    });
    expect(decide(call('review', 'edit_file', 'edit', { paths: ['README.md'] }), i)).toEqual({
      action: 'allow',
      rule: 'mode:review kind:edit',
    });
  });

  it('a deny rule applies when any target matches; an allow rule only when every target matches', () => {
    const i = { ...none, rules: [{ id: 'd', action: 'deny' as const, path: 'secrets/**' }] };
    expect(decide(call('review', 'move_file', 'move', { paths: ['secrets/k', 'public/k'] }), i).action).toBe('deny');
    const a = { ...none, rules: [{ id: 'a', action: 'allow' as const, tool: 'fetch', path: 'docs/**' }] };
    expect(decide(call('review', 'fetch', 'fetch', { paths: ['docs/a', 'docs/b'] }), a).action).toBe('allow');
    expect(decide(call('review', 'fetch', 'fetch', { paths: ['docs/a', 'src/b'] }), a).action).toBe('ask');
  });

  it('a rule with a path never matches a call without paths; dotfiles are covered by **', () => {
    const i = { ...none, rules: [{ id: 'd', action: 'deny' as const, path: 'src/**' }] };
    expect(decide(call('review', 'python', 'execute'), i).action).toBe('allow');
    expect(decide(call('review', 'write_file', 'edit', { paths: ['src/.env'] }), i).action).toBe('deny');
  });

  it('tool globs, kinds and hosts match', () => {
    const rules = [
      { id: 'm', action: 'allow' as const, tool: 'mcp__github__*' },
      { id: 'k', action: 'deny' as const, kind: 'delete' as const },
      { id: 'h', action: 'allow' as const, kind: 'fetch' as const, host: '*.python.org' },
      { id: 'x', action: 'allow' as const, kind: 'fetch' as const, host: 'example.com' },
    ];
    const i = { ...none, rules };
    expect(decide(call('review', 'mcp__github__get', 'other'), i).action).toBe('allow');
    expect(decide(call('review', 'mcp__other__get', 'other'), i).action).toBe('ask');
    expect(decide(call('auto', 'delete_file', 'delete', { paths: ['a'] }), i).rule).toBe('project:deny kind=delete');
    expect(decide(call('review', 'fetch', 'fetch', { hosts: ['docs.python.org'] }), i).action).toBe('allow');
    expect(decide(call('review', 'fetch', 'fetch', { hosts: ['DOCS.Python.org'] }), i).action).toBe('allow');
    expect(decide(call('review', 'fetch', 'fetch', { hosts: ['python.org'] }), i).action).toBe('ask');
    expect(decide(call('review', 'fetch', 'fetch', { hosts: ['evilpython.org'] }), i).action).toBe('ask');
    expect(decide(call('review', 'fetch', 'fetch', { hosts: ['example.com'] }), i).action).toBe('allow');
    expect(decide(call('review', 'fetch', 'fetch', { hosts: ['a.example.com'] }), i).action).toBe('ask');
    expect(decide(call('review', 'fetch', 'fetch', { hosts: ['docs.python.org', 'evil.com'] }), i).action).toBe('ask');
  });

  it('deny rules and auto mode: deny still wins', () => {
    const i = { ...none, rules: [{ id: 'd', action: 'deny' as const, tool: 'fetch' }] };
    expect(decide(call('auto', 'fetch', 'fetch', { hosts: ['a.com'] }), i).action).toBe('deny');
  });
});

describe('read-only is a ceiling', () => {
  it('allow rules and grants widen read-only only for read/search', () => {
    const i: PolicyInputs = {
      ...none,
      rules: [{ id: 'a', action: 'allow', tool: '*' }],
      grants: [{ action: 'allow', tool: 'write_file' }],
    };
    expect(decide(call('read-only', 'write_file', 'edit', { paths: ['a'] }), i)).toEqual({
      action: 'deny',
      rule: 'mode:read-only kind:edit',
    });
    expect(decide(call('read-only', 'python', 'execute'), i).action).toBe('deny');
    expect(decide(call('read-only', 'mcp__fs__read', 'read'), i)).toEqual({
      action: 'allow',
      rule: 'project:allow tool=*',
    });
  });

  it('an ask rule cannot open read-only to writes (no question is asked)', () => {
    const i: PolicyInputs = { ...none, rules: [{ id: 'q', action: 'ask', tool: 'write_file' }] };
    expect(decide(call('read-only', 'write_file', 'edit', { paths: ['a'] }), i).action).toBe('deny');
    expect(decide(call('review', 'write_file', 'edit', { paths: ['a'] }), i).action).toBe('ask');
  });

  it('deny rules still apply to reads in read-only', () => {
    const i: PolicyInputs = { ...none, rules: [{ id: 'd', action: 'deny', path: '.env' }] };
    expect(decide(call('read-only', 'read_file', 'read', { paths: ['.env'] }), i).action).toBe('deny');
  });
});

describe('grants', () => {
  it('a session grant turns a mode ask into allow, but not a project ask rule', () => {
    const grants = grantRulesFor({ tool: 'mcp__gh__list', kind: 'other', target: {} });
    expect(grants).toEqual([{ action: 'allow', tool: 'mcp__gh__list' }]);
    expect(decide(call('review', 'mcp__gh__list', 'other'), { ...none, grants })).toEqual({
      action: 'allow',
      rule: 'session:allow tool=mcp__gh__list',
    });
    expect(decide(call('review', 'mcp__gh__other', 'other'), { ...none, grants }).action).toBe('ask');
    const ask = [{ id: 'q', action: 'ask' as const, tool: 'mcp__*' }];
    expect(decide(call('review', 'mcp__gh__list', 'other'), { ...none, rules: ask, grants }).action).toBe('ask');
    // …which is why a question asked by a mode default offers remembering, and one asked by an ask rule does not.
    expect(decide(call('review', 'mcp__gh__other', 'other'), none).rememberable).toBeUndefined();
    expect(decide(call('review', 'mcp__gh__list', 'other'), { ...none, rules: ask }).rememberable).toBe(false);
  });

  it('a fetch grant is narrowed to the asked host', () => {
    const grants = grantRulesFor({ tool: 'fetch', kind: 'fetch', target: { hosts: ['PyPI.org'] } });
    expect(grants).toEqual([{ action: 'allow', tool: 'fetch', host: 'pypi.org' }]);
    expect(decide(call('review', 'fetch', 'fetch', { hosts: ['pypi.org'] }), { ...none, grants }).action).toBe('allow');
    expect(decide(call('review', 'fetch', 'fetch', { hosts: ['evil.org'] }), { ...none, grants }).action).toBe('ask');
  });

  it('glob characters in a tool name are literal in its grant', () => {
    const grants = grantRulesFor({ tool: 'mcp__s__a*', kind: 'other', target: {} });
    expect(decide(call('review', 'mcp__s__a*', 'other'), { ...none, grants }).action).toBe('allow');
    expect(decide(call('review', 'mcp__s__abc', 'other'), { ...none, grants }).action).toBe('ask');
  });
});

// Issue 14 §2: host rules compared strings, so a deny for 127.0.0.1 did not stop [::ffff:127.0.0.1].
describe('host rules match canonical forms; ports; exact names', () => {
  const deny = (host: string) => ({ id: host, action: 'deny' as const, host });
  it('a deny for an address covers every spelling of it, and only it', () => {
    const i = { ...none, rules: [deny('127.0.0.1'), deny('169.254.169.254'), deny('[::1]')] };
    for (const h of [
      '127.0.0.1',
      '127.1',
      '0x7f000001',
      '[::ffff:127.0.0.1]',
      '::ffff:7f00:1',
      '[0:0:0:0:0:ffff:7f00:1]',
    ])
      expect(decide(call('auto', 'python', 'fetch', { hosts: [h] }), i).action, h).toBe('deny');
    for (const h of ['0xa9fea9fe', '[::ffff:a9fe:a9fe]', '169.254.43518', '[0:0:0:0:0:0:0:1]'])
      expect(decide(call('auto', 'python', 'fetch', { hosts: [h] }), i).action, h).toBe('deny');
    for (const h of ['127.0.0.2', '[::2]', 'localhost'])
      expect(decide(call('auto', 'python', 'fetch', { hosts: [h] }), i).action, h).toBe('allow');
  });
  it('a rule written in another notation means the same address', () => {
    const i = { ...none, rules: [deny('0x7f.1')] };
    expect(decide(call('auto', 'python', 'fetch', { hosts: ['127.0.0.1'] }), i).action).toBe('deny');
  });
  it('a rule with a port matches only that port; exact only for an allow naming the one host and its port', () => {
    const rules = [
      { id: 'p', action: 'allow' as const, host: '127.0.0.1', port: 8080 },
      { id: 'w', action: 'allow' as const, host: '*.example.com', port: 443 },
      { id: 'n', action: 'allow' as const, host: 'example.org' },
    ];
    const i = { ...none, rules };
    expect(decide(call('review', 'python', 'fetch', { hosts: ['127.1'], port: 8080 }), i)).toEqual({
      action: 'allow',
      rule: 'project:allow host=127.0.0.1 port=8080',
      exact: true,
    });
    expect(decide(call('review', 'python', 'fetch', { hosts: ['127.0.0.1'], port: 8081 }), i).action).toBe('ask');
    expect(decide(call('review', 'python', 'fetch', { hosts: ['127.0.0.1'] }), i).action).toBe('ask');
    expect(decide(call('review', 'python', 'fetch', { hosts: ['a.example.com'], port: 443 }), i)).toEqual({
      action: 'allow',
      rule: 'project:allow host=*.example.com port=443',
    });
    expect(decide(call('review', 'python', 'fetch', { hosts: ['example.org'], port: 443 }), i).exact).toBeUndefined();
    // A broader allow earlier in the file does not hide the exact one.
    const both = { ...none, rules: [{ id: 'b', action: 'allow' as const, host: '127.0.0.1' }, ...rules] };
    expect(decide(call('review', 'python', 'fetch', { hosts: ['127.0.0.1'], port: 8080 }), both).exact).toBe(true);
    // auto mode allows a name but never names an address.
    expect(decide(call('auto', 'python', 'fetch', { hosts: ['10.0.0.1'], port: 80 }), none)).toEqual({
      action: 'allow',
      rule: 'mode:auto kind:fetch',
    });
  });
});

describe('deniedPaths: what a call that may run is still kept out of', () => {
  it('lists the deny rules whose other fields match the call, with their rule names', () => {
    const rules = [
      { id: 'a', action: 'deny' as const, path: 'secrets/**' },
      { id: 'b', action: 'deny' as const, tool: 'grep', path: 'logs/**' },
      { id: 'c', action: 'deny' as const, kind: 'edit' as const, path: 'src/**' },
      { id: 'd', action: 'deny' as const, tool: 'grep' },
    ];
    const i = { ...none, rules };
    expect(decide(call('auto', 'python', 'execute'), i)).toEqual({
      action: 'allow',
      rule: 'mode:auto kind:execute',
      deniedPaths: [{ glob: 'secrets/**', rule: 'project:deny path=secrets/**' }],
    });
    expect(decide(call('review', 'glob', 'search', { paths: ['.'] }), i).deniedPaths?.map((d) => d.glob)).toEqual([
      'secrets/**',
    ]);
    // grep is denied outright by rule d; a denied call carries nothing more.
    expect(decide(call('review', 'grep', 'search', { paths: ['.'] }), i)).toEqual({
      action: 'deny',
      rule: 'project:deny tool=grep',
    });
    expect(decide(call('review', 'read_file', 'read', { paths: ['secrets/k'] }), i).action).toBe('deny');
  });
});
