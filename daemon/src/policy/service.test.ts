import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntryInput, AuditSink } from '../audit/sink.js';
import { isShadowboxError } from '../errors.js';
import { silentLogger } from '../state/index.js';
import { createPolicy, rulesFilePath, type PolicyQuery, type PolicyService } from './index.js';

let stateDir: string;
let entries: AuditEntryInput[];
let policy: PolicyService;
const audit: AuditSink = { append: async (e) => void entries.push(e) };
const ws = '/work/project';
const q = (over: Partial<PolicyQuery> = {}): PolicyQuery => ({
  workspace: ws,
  sessionId: 's1',
  mode: 'review',
  tool: 'mcp__gh__issues',
  kind: 'other',
  target: {},
  ...over,
});

beforeEach(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), 'sbx-policy-'));
  entries = [];
  policy = createPolicy({ stateDir, audit, logger: silentLogger });
});
afterEach(async () => rm(stateDir, { recursive: true, force: true }));

describe('policy service', () => {
  it('lists the defaults for a workspace without a rules file', async () => {
    const l = await policy.list(ws);
    expect(l).toEqual({
      mode: 'review',
      rules: [],
      protected: ['**/.git/**', '.shadowbox/**'],
      file: rulesFilePath(stateDir, ws),
    });
  });

  it('policy/set adds and removes rules, persists them 0600, and audits the change', async () => {
    const r = await policy.set(
      {
        workspace: ws,
        add: [
          { action: 'deny', tool: 'write_file', path: 'secrets/**' },
          { action: 'allow', kind: 'fetch', host: '*.pypi.org' },
        ],
        remove: [],
      },
      'client-1',
    );
    expect(r.rules).toHaveLength(2);
    expect(r.rules[0]).toEqual({
      id: expect.stringMatching(/^r[0-9a-f]{8}$/),
      action: 'deny',
      tool: 'write_file',
      path: 'secrets/**',
    });
    const file = rulesFilePath(stateDir, ws);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await policy.decide(q({ tool: 'write_file', kind: 'edit', target: { paths: ['secrets/a'] } }))).toEqual({
      action: 'deny',
      rule: 'project:deny tool=write_file path=secrets/**',
    });
    expect(entries.at(-1)).toMatchObject({
      type: 'policy.set',
      workspace: ws,
      data: { by: 'client-1', removed: [], count: 2 },
    });

    // The same rule again is one rule; a fresh service reads the file.
    await policy.set(
      { workspace: ws, add: [{ action: 'deny', tool: 'write_file', path: 'secrets/**' }], remove: [] },
      'client-1',
    );
    const fresh = createPolicy({ stateDir, audit, logger: silentLogger });
    expect((await fresh.list(ws)).rules).toHaveLength(2);

    const after = await fresh.set({ workspace: ws, add: [], remove: [r.rules[0].id!] }, 'client-2');
    expect(after.rules.map((x) => x.action)).toEqual(['allow']);
    expect(entries.at(-1)).toMatchObject({ type: 'policy.set', data: { by: 'client-2', removed: [r.rules[0].id] } });
    expect(
      (await policy.decide(q({ tool: 'write_file', kind: 'edit', target: { paths: ['secrets/a'] } }))).action,
    ).toBe('allow');
  });

  it('refuses unknown ids and bad patterns without writing', async () => {
    await expect(policy.set({ workspace: ws, add: [], remove: ['rnope'] }, 'c')).rejects.toMatchObject({
      data: { reason: 'unknown_rule_id' },
    });
    await expect(
      policy.set({ workspace: ws, add: [{ action: 'allow', path: '../outside/**' }], remove: [] }, 'c'),
    ).rejects.toMatchObject({ data: { reason: 'bad_path_pattern' } });
    await expect(
      policy.set({ workspace: ws, add: [{ action: 'allow', host: 'http://x.com/' }], remove: [] }, 'c'),
    ).rejects.toMatchObject({ data: { reason: 'bad_host_pattern' } });
    await expect(stat(rulesFilePath(stateDir, ws))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(entries).toHaveLength(0);
  });

  // Issue 14 §4: `{action: "allow", paths: "docs/**"}` lost its unknown key and became allow-everything.
  it('refuses unknown keys and rules that would match everything by omission, naming the field', async () => {
    const set = (add: unknown[]) => policy.set({ workspace: ws, add: add as never, remove: [] }, 'c');
    await expect(
      set([
        { action: 'deny', tool: 'grep' },
        { action: 'allow', paths: 'docs/**' },
      ]),
    ).rejects.toMatchObject({
      code: -33303,
      data: { reason: 'bad_rule', field: 'add.1.paths' },
    });
    await expect(set([{ action: 'allow' }])).rejects.toMatchObject({
      code: -33303,
      data: { reason: 'rule_matches_everything', field: 'add.0' },
    });
    await expect(set([{ action: 'allow', kind: 'fetch', port: 8080 }])).rejects.toMatchObject({
      data: { reason: 'port_without_host', field: 'add.0.port' },
    });
    await expect(set([{ action: 'allow', host: '127.0.0.1:8080' }])).rejects.toMatchObject({
      data: { reason: 'bad_host_pattern', field: 'add.0.host' },
    });
    await expect(set([{ action: 'allow', tool: '' }])).rejects.toMatchObject({
      data: { reason: 'bad_rule', field: 'add.0.tool' },
    });
    await expect(stat(rulesFilePath(stateDir, ws))).rejects.toMatchObject({ code: 'ENOENT' });
    // Saying "everything" explicitly is allowed; so is a deny that names nothing (it narrows).
    await set([{ action: 'allow', tool: '*' }, { action: 'deny' }]);
    expect((await policy.list(ws)).rules.map((r) => r.action)).toEqual(['allow', 'deny']);
  });

  it('a rules file with an allow-everything rule or a stray key fails closed, naming the field', async () => {
    const file = rulesFilePath(stateDir, ws);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, JSON.stringify({ version: 1, rules: [{ id: 'a', action: 'allow' }] }));
    const err = await policy.list(ws).catch((e: unknown) => e);
    expect(err).toMatchObject({ data: { reason: 'rules_file_corrupt', issues: [{ path: 'rules.0' }] } });
    expect((await policy.decide(q())).action).toBe('deny');
  });

  it('a corrupt rules file is a typed error, fails closed, and is never overwritten', async () => {
    const file = rulesFilePath(stateDir, ws);
    await mkdir(path.dirname(file), { recursive: true });
    for (const bad of [
      '{ not json',
      JSON.stringify({ version: 1, rules: [{ id: 'x', action: 'deny', paths: 'secrets/**' }] }),
      JSON.stringify({ version: 2, rules: [] }),
    ]) {
      await writeFile(file, bad);
      const err = await policy.list(ws).catch((e: unknown) => e);
      expect(isShadowboxError(err, -33303, 'rules_file_corrupt')).toBe(true);
      expect(await policy.decide(q({ tool: 'read_file', kind: 'read', target: { paths: ['a'] } }))).toEqual({
        action: 'deny',
        rule: 'policy:rules-file-invalid',
      });
      await expect(
        policy.set({ workspace: ws, add: [{ action: 'allow', tool: 'x' }], remove: [] }, 'c'),
      ).rejects.toMatchObject({ data: { reason: 'rules_file_corrupt' } });
      await expect(policy.grant(q(), 'project', 'c')).rejects.toMatchObject({ data: { reason: 'rules_file_corrupt' } });
      expect(await readFile(file, 'utf8')).toBe(bad);
    }
    // Fixing the file by hand takes effect on the next call.
    await writeFile(file, JSON.stringify({ version: 1, rules: [{ id: 'h', action: 'allow', tool: 'mcp__gh__*' }] }));
    expect(await policy.decide(q())).toEqual({ action: 'allow', rule: 'project:allow tool=mcp__gh__*' });
  });

  it('session grants live in memory per session and are forgotten with it', async () => {
    expect((await policy.decide(q())).action).toBe('ask');
    await policy.grant(q(), 'session', 'client-1');
    expect(await policy.decide(q())).toEqual({ action: 'allow', rule: 'session:allow tool=mcp__gh__issues' });
    expect((await policy.decide(q({ sessionId: 's2' }))).action).toBe('ask');
    expect(entries.at(-1)).toMatchObject({
      type: 'policy.grant',
      sessionId: 's1',
      data: { scope: 'session', by: 'client-1' },
    });
    policy.forgetSession('s1');
    expect((await policy.decide(q())).action).toBe('ask');
  });

  it('project grants are appended to the rules file and apply to every session', async () => {
    await policy.grant(q({ tool: 'fetch', kind: 'fetch', target: { hosts: ['pypi.org'] } }), 'project', 'client-9');
    const l = await policy.list(ws);
    expect(l.rules).toEqual([{ id: expect.any(String), action: 'allow', tool: 'fetch', host: 'pypi.org' }]);
    const raw: unknown = JSON.parse(await readFile(l.file, 'utf8'));
    expect(raw).toMatchObject({ version: 1, workspace: ws, rules: [{ addedBy: 'client-9' }] });
    expect(
      (await policy.decide(q({ sessionId: 'other', tool: 'fetch', kind: 'fetch', target: { hosts: ['pypi.org'] } })))
        .action,
    ).toBe('allow');
    expect(entries.at(-1)).toMatchObject({ type: 'policy.set', data: { source: 'permission', by: 'client-9' } });
  });

  it('concurrent edits are serialized: no rule is lost', async () => {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        policy.set({ workspace: ws, add: [{ action: 'allow', tool: `t${i}` }], remove: [] }, 'c'),
      ),
    );
    expect((await policy.list(ws)).rules).toHaveLength(20);
  });

  it('protects a state dir that sits inside the workspace, and the daemon-configured globs', async () => {
    const inner = createPolicy({
      stateDir: path.join(ws, 'state'),
      audit,
      logger: silentLogger,
      protectedPaths: ['infra/**'],
    });
    expect(
      await inner.decide(
        q({ mode: 'auto', tool: 'write_file', kind: 'edit', target: { paths: ['state/workspaces/x/policy.json'] } }),
      ),
    ).toEqual({ action: 'deny', rule: 'protected:state/**' });
    expect(
      (await inner.decide(q({ mode: 'auto', tool: 'write_file', kind: 'edit', target: { paths: ['infra/main.tf'] } })))
        .action,
    ).toBe('deny');
    expect((await inner.list(ws)).protected).toEqual(['**/.git/**', '.shadowbox/**', 'infra/**', 'state/**']);
  });
});
