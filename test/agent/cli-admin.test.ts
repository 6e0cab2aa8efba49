// The review, policy and audit commands as a person runs them against a real daemon: `shadowbox
// shadow export`, `reject`, `accept`/`undo`, `policy list|allow|ask|deny|remove`, `audit show|verify`
// (and verify after someone edits the audit log by hand).
import { execFileSync } from 'node:child_process';
import { readFile, realpath, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEntry, PolicyList, PolicySetRules, SessionCreate, SessionPrompt, ToolsCall } from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import { workspaceStateDir } from '../../daemon/src/state/paths.js';
import { makeTempDir, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' });

describe('shadowbox review, policy and audit commands', () => {
  let model: ModelServer;
  let d: TestDaemon;
  let c: ShadowboxClient;
  let ws: string;
  let sessionId: string;
  let cli: (...args: string[]) => Promise<{ code: number | null; stdout: string; stderr: string }>;

  beforeAll(async () => {
    model = await startModelServer();
    d = await startTestDaemon({ web: false, env: openaiEnv(model, 'openai/t') });
    cli = (...args) => runCli(args, { ...d.env, NO_COLOR: '1' }, { cwd: ws });
    ws = await realpath(await makeTempDir('ws'));
    await writeFile(path.join(ws, 'a.txt'), 'A1\n');
    await writeFile(path.join(ws, 'b.txt'), 'B1\n');
    await mkdir(path.join(ws, 'secret'));
    await writeFile(path.join(ws, 'secret/k.txt'), 'key\n');
    git(ws, 'init', '-q', '-b', 'main');
    git(ws, 'add', '.');
    git(ws, '-c', 'user.name=P', '-c', 'user.email=p@example.com', 'commit', '-qm', 'person commit');

    // One agent turn: two edits and a new file, all waiting in the shadow.
    c = await d.connect('admin');
    sessionId = (await c.request(SessionCreate, { workspace: ws })).sessionId;
    model.push(
      {
        toolCalls: [
          { name: 'write_file', arguments: { path: 'a.txt', content: 'A2\n' } },
          { name: 'write_file', arguments: { path: 'b.txt', content: 'B2\n' } },
          { name: 'write_file', arguments: { path: 'c.txt', content: 'C\n' } },
        ],
      },
      { text: ['Changed a and b, added c.'] },
    );
    expect((await c.request(SessionPrompt, { sessionId, text: 'change things' })).stopReason).toBe('end_turn');
  });
  afterAll(async () => {
    c?.dispose();
    await d?.stop();
    await d?.cleanup();
    await model?.close();
  });

  const pending = async () => {
    const r = await cli('review', '--json');
    expect(r.code).toBe(0);
    // Without --session: every session of the workspace with pending changes, each with its diff.
    const review = JSON.parse(r.stdout) as { sessions: Array<{ diff: { files: Array<{ path: string }> } }> };
    return review.sessions.flatMap((s) => s.diff.files.map((f) => f.path)).sort();
  };

  it('shadow export --branch creates the branch in the person repository and changes nothing else', async () => {
    const head = git(ws, 'rev-parse', 'HEAD').trim();
    const index = await readFile(path.join(ws, '.git/index'));
    const r = await cli('shadow', 'export', '--branch', 'agent/work');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/created branch agent\/work at [0-9a-f]{12} \(1 shadow commit/);
    expect(git(ws, 'rev-parse', 'agent/work^').trim()).toBe(head);
    expect(git(ws, 'show', 'agent/work:a.txt')).toBe('A2\n');
    expect(git(ws, 'show', 'agent/work:c.txt')).toBe('C\n');
    expect(git(ws, 'rev-parse', 'HEAD').trim()).toBe(head);
    expect(git(ws, 'symbolic-ref', 'HEAD').trim()).toBe('refs/heads/main');
    expect(git(ws, 'status', '--porcelain')).toBe('');
    expect((await readFile(path.join(ws, '.git/index'))).equals(index)).toBe(true);
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('A1\n');

    // The same name again is refused with one sentence; a missing --branch is a usage error.
    const again = await cli('shadow', 'export', '--branch', 'agent/work');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    expect((await cli('shadow', 'export')).code).toBe(2);
  });

  it('reject drops one file from the review; accept writes another; undo restores it', async () => {
    expect(await pending()).toEqual(['a.txt', 'b.txt', 'c.txt']);
    const rej = await cli('reject', 'b.txt');
    expect(rej.code).toBe(0);
    expect(rej.stdout).toContain('rejected b.txt');
    expect(await pending()).toEqual(['a.txt', 'c.txt']);
    expect(await readFile(path.join(ws, 'b.txt'), 'utf8')).toBe('B1\n');

    const acc = await cli('accept', 'a.txt');
    expect(acc.code).toBe(0);
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('A2\n');
    expect(await pending()).toEqual(['c.txt']);

    const undo = await cli('undo');
    expect(undo.code).toBe(0);
    expect(undo.stdout).toContain('restored a.txt');
    expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('A1\n');
    expect(await pending()).toEqual(['a.txt', 'c.txt']);
    // Nothing left to undo.
    const none = await cli('undo');
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^shadowbox undo: no accept to undo.*nothing_to_undo\)\n$/); // one sentence, no stack
  });

  it('policy allow|ask|deny|remove round-trips through policy list and decides tool calls', async () => {
    const list = async () => {
      const r = await cli('policy', 'list', '--json');
      expect(r.code).toBe(0);
      return (JSON.parse(r.stdout) as { rules: Array<{ id?: string; action: string; tool?: string; path?: string }> })
        .rules;
    };
    expect(await list()).toEqual([]);
    expect((await cli('policy', 'allow', '--tool', 'list_dir')).code).toBe(0);
    expect((await cli('policy', 'ask', '--tool', 'delete_file')).code).toBe(0);
    const deny = await cli('policy', 'deny', '--path', 'secret/**');
    expect(deny.code).toBe(0);
    expect(deny.stdout).toContain('3 project rules');
    const rules = await list();
    expect(rules.map((r) => [r.action, r.tool ?? r.path])).toEqual([
      ['allow', 'list_dir'],
      ['ask', 'delete_file'],
      ['deny', 'secret/**'],
    ]);
    expect(rules.every((r) => typeof r.id === 'string' && r.id.length > 0)).toBe(true);
    const text = await cli('policy', 'list');
    expect(text.stdout).toMatch(/deny\s+path=secret\/\*\*/);

    // The deny rule bites: the secret is unreadable, other files are not.
    const denied = await c.request(ToolsCall, { sessionId, tool: 'read_file', input: { path: 'secret/k.txt' } });
    expect(denied.isError).toBe(true);
    expect(denied.content).not.toContain('key');
    expect((await c.request(ToolsCall, { sessionId, tool: 'read_file', input: { path: 'b.txt' } })).isError).toBe(
      false,
    );

    const denyId = rules.find((r) => r.action === 'deny')!.id!;
    const rm = await cli('policy', 'remove', denyId);
    expect(rm.code).toBe(0);
    expect(rm.stdout).toContain('2 project rules left');
    expect((await list()).map((r) => r.action)).toEqual(['allow', 'ask']);
    const readable = await c.request(ToolsCall, { sessionId, tool: 'read_file', input: { path: 'secret/k.txt' } });
    expect(readable.isError).toBe(false);
    expect(readable.content).toContain('key');

    // Usage errors exit 2 and say what is missing.
    const bare = await cli('policy', 'allow');
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/--tool/);
    expect((await cli('policy', 'remove')).code).toBe(2);
  });

  // Issue 14 §4: policy/set dropped the unknown key of {action: "allow", paths: "docs/**"} and stored allow-everything.
  it('every policy input is strict: unknown keys and rules about everything are refused, naming the field', async () => {
    const before = (await c.request(PolicyList, { workspace: ws })).rules;
    const err = await c
      .request(PolicySetRules, { workspace: ws, add: [{ action: 'allow', paths: 'docs/**' } as never] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: -32602, data: { reason: 'invalid_params', field: 'add.0.paths' } });
    const everything = await c
      .request(PolicySetRules, { workspace: ws, add: [{ action: 'allow' }] })
      .catch((e: unknown) => e);
    expect(everything).toMatchObject({ code: -33303, data: { reason: 'rule_matches_everything', field: 'add.0' } });
    const stray = await c
      .request(PolicySetRules, { workspace: ws, rules: [{ action: 'deny', path: 'x/**' }] } as never)
      .catch((e: unknown) => e);
    expect(stray).toMatchObject({ code: -32602, data: { field: 'rules' } });
    const unknownFlag = await cli('policy', 'allow', '--paths', 'docs/**');
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain("'--paths'");
    const badKind = await cli('policy', 'allow', '--kind', 'everything');
    expect(badKind.code).toBe(1);
    expect(badKind.stderr).toContain('add.0.kind');
    expect((await cli('policy', 'allow', '--kind', 'fetch', '--port', '8080')).stderr).toContain('add.0.port');
    expect((await cli('policy', 'allow', '--host', '127.0.0.1', '--port', 'x')).code).toBe(2);
    expect((await c.request(PolicyList, { workspace: ws })).rules).toEqual(before);
    const ok = await cli('policy', 'allow', '--kind', 'fetch', '--host', '127.0.0.1', '--port', '8080');
    expect(ok.code).toBe(0);
    const added = (await c.request(PolicyList, { workspace: ws })).rules.find((r) => r.port === 8080);
    expect(added).toMatchObject({ action: 'allow', kind: 'fetch', host: '127.0.0.1', port: 8080 });
    await c.request(PolicySetRules, { workspace: ws, remove: [added?.id ?? ''] });
  });

  it('audit show lists the tool calls; audit verify passes, then names the entry someone edited', async () => {
    const show = await cli('audit', 'show');
    expect(show.code).toBe(0);
    expect(show.stdout.split('\n').filter((l) => /tool\.call tool write_file/.test(l))).toHaveLength(3);
    const json = await cli('audit', 'show', '--json', '--tool', 'write_file');
    const entries = json.stdout
      .trim()
      .split('\n')
      .map((l) => AuditEntry().parse(JSON.parse(l)));
    expect(entries.length).toBeGreaterThanOrEqual(3);
    expect(entries.every((e) => e.data.tool === 'write_file')).toBe(true);

    const ok = await cli('audit', 'verify');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/audit log intact: \d+ entries/);

    // Someone rewrites history: the b.txt write now claims a.txt.
    const file = path.join(workspaceStateDir(d.stateDir, ws), 'audit.jsonl');
    const lines = (await readFile(file, 'utf8')).split('\n');
    const i = lines.findIndex((l) => l.includes('"write_file"') && l.includes('b.txt'));
    expect(i).toBeGreaterThanOrEqual(0);
    const seq = (JSON.parse(lines[i]) as { seq: number }).seq;
    lines[i] = lines[i].replaceAll('b.txt', 'a.txt');
    await writeFile(file, lines.join('\n'));

    const bad = await cli('audit', 'verify');
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain(`first bad entry ${seq} (line ${i + 1})`);
    const badJson = await cli('audit', 'verify', '--json');
    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ ok: false, firstBad: { seq, line: i + 1 } });
  });
});
