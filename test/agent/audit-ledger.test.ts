// Issue 14 §3 through a real daemon: a turn end signs the audit log (strict verify passes), each tool
// call's audit seq is in the session's event log, and cutting the audit log back to an older signed
// checkpoint (with that checkpoint as the head) is caught from the session's ledger — by verify, and by
// the restarted daemon, which records the break instead of signing over it.
import { existsSync } from 'node:fs';
import { readFile, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditVerify, SessionCreate, SessionPrompt, ToolsCall } from '@shadowbox/protocol';
import { workspaceStateDir } from '../../daemon/src/state/paths.js';
import { makeTempDir, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';

describe('the audit log and the sessions keep each other honest', () => {
  let model: ModelServer;
  let d: TestDaemon;
  let ws: string;
  const env = () => openaiEnv(model, 'openai/t');
  beforeAll(async () => {
    model = await startModelServer();
    d = await startTestDaemon({ web: false, env: env() });
    ws = await realpath(await makeTempDir('ledger'));
    await writeFile(path.join(ws, 'a.txt'), 'A\n');
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
    await model?.close();
  });

  it('a turn end signs everything; a log cut back to an older checkpoint is caught from the session ledger', async () => {
    const c = await d.connect('ledger');
    const { sessionId } = await c.request(SessionCreate, { workspace: ws });
    const turn = async (n: number) => {
      model.push(
        { toolCalls: [{ name: 'read_file', arguments: { path: 'a.txt' } }] },
        { toolCalls: [{ name: 'write_file', arguments: { path: `n${n}.txt`, content: `${n}\n` } }] },
        { text: ['done'] },
      );
      expect((await c.request(SessionPrompt, { sessionId, text: `turn ${n}` })).stopReason).toBe('end_turn');
    };
    await turn(1);
    // Signed at the turn end: nothing is left unsigned.
    expect(await c.request(AuditVerify, { workspace: ws, strict: true })).toMatchObject({ ok: true });
    const audit = path.join(workspaceStateDir(d.stateDir, ws), 'audit.jsonl');
    const head = path.join(workspaceStateDir(d.stateDir, ws), 'audit.head.json');
    const cutAt = (await readFile(audit, 'utf8')).split('\n').filter(Boolean);
    const checkpointLine = cutAt.at(-1) as string;
    expect(checkpointLine.startsWith('{"checkpoint"')).toBe(true);
    await turn(2);
    // The session's event log holds the seq of each call's write-ahead entry.
    const events = (await readFile(path.join(d.stateDir, 'sessions', sessionId, 'events.jsonl'), 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"auditSeq"'));
    expect(events).toHaveLength(4);
    c.dispose();
    await d.stop();

    // The attack: cut the log at the checkpoint after turn 1 and make that checkpoint the head.
    await writeFile(audit, cutAt.map((l) => l + '\n').join(''));
    await writeFile(head, JSON.stringify((JSON.parse(checkpointLine) as { checkpoint: unknown }).checkpoint) + '\n');
    d = await startTestDaemon({ stateDir: d.stateDir, web: false, env: env() });
    const verify = await runCli(['audit', 'verify', '--json'], { ...d.env, NO_COLOR: '1' }, { cwd: ws });
    expect(verify.code).toBe(1);
    expect(JSON.parse(verify.stdout)).toMatchObject({
      ok: false,
      firstBad: { reason: 'truncated_tail', sessionId },
    });
    // The restarted daemon does not sign over the cut log: its next append records the break first.
    const c2 = await d.connect('after');
    await c2.request(ToolsCall, { sessionId, tool: 'read_file', input: { path: 'a.txt' } });
    const after = await c2.request(AuditVerify, { workspace: ws });
    expect(after).toMatchObject({ ok: false, breaks: [{ reason: 'truncated_tail' }] });
    const human = await runCli(['audit', 'verify'], { ...d.env, NO_COLOR: '1' }, { cwd: ws });
    expect(human.stdout).toContain('a break was recorded');
    c2.dispose();
  }, 120_000);

  // Issue 14 §3: a 9,000-level nested input failed in its digest before any audit entry was written.
  it('a tool call whose input cannot be digested does not run, and the refusal is recorded', async () => {
    const c = await d.connect('deep');
    const { sessionId } = await c.request(SessionCreate, { workspace: ws });
    // Sent as the model's raw argument text: no JSON library on this side has to build it.
    const deep = `{"path":"deep.txt","content":${'{"a":'.repeat(9000)}"x"${'}'.repeat(9000)}}`;
    model.push({ toolCalls: [{ name: 'write_file', arguments: deep }] }, { text: ['ok'] });
    expect((await c.request(SessionPrompt, { sessionId, text: 'deep' })).stopReason).toBe('end_turn');
    const shown = await runCli(
      ['audit', 'show', '--json', '--type', 'tool.call'],
      { ...d.env, NO_COLOR: '1' },
      { cwd: ws },
    );
    const last = JSON.parse(shown.stdout.trim().split('\n').at(-1) as string) as { data: Record<string, unknown> };
    expect(last.data).toMatchObject({
      tool: 'write_file',
      inputDigest: null,
      inputDigestError: 'too_deep',
      reason: 'audit_unavailable',
    });
    expect(existsSync(path.join(ws, 'deep.txt'))).toBe(false);
    c.dispose();
  });
});
