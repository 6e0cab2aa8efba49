// Signed WASI bundles through the agent: the model calls the jq and sqlite bundle tools and the sandboxed
// python tool; they run in the WASI sandbox on the session's shadow view. Needs the official bundles built
// (`bash scripts/setup.sh` builds them; CI does). Not skipped when missing: a missing bundle is a failure.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionCreate, SessionPrompt, ShadowDiff, ToolsCall, ToolsList, type SessionEvent } from '@shadowbox/protocol';
import { makeTempDir, repoRoot, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';

describe('official bundles through the agent', () => {
  let model: ModelServer;
  let d: TestDaemon;
  const modelEnv = () => ({
    ...openaiEnv(model),
  });
  beforeAll(async () => {
    for (const b of ['jq', 'sqlite', 'python']) {
      if (!existsSync(path.join(repoRoot, 'bundles/out', b)))
        throw new Error(
          `bundle ${b} is not built: run \`node bundles/scripts/build.mjs ${b}\` (scripts/setup.sh does)`,
        );
    }
    model = await startModelServer();
    d = await startTestDaemon({ web: false, env: modelEnv() });
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
    await model?.close();
  });

  it('offers the bundle tools, and the model runs jq, sqlite and python on the shadow view', async () => {
    const ws = await makeTempDir('ws');
    await writeFile(
      path.join(ws, 'items.json'),
      JSON.stringify({
        items: [
          { id: 1, price: 2.5 },
          { id: 2, price: 4 },
        ],
      }),
    );
    const c = await d.connect('a');
    const names = (await c.request(ToolsList, {})).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['jq', 'sqlite', 'python', 'run_bundle', 'read_file', 'write_file']));

    const seen: SessionEvent[] = [];
    c.onEvent((e) => seen.push(e));
    const s = await c.request(SessionCreate, { workspace: ws });
    model.push(
      {
        toolCalls: [
          { name: 'jq', arguments: { filter: '[.items[].price] | add', file: 'items.json' } },
          {
            name: 'sqlite',
            arguments: {
              db: 'shop.db',
              sql: 'create table t(x); insert into t values (41),(1); select sum(x) from t;',
            },
          },
        ],
      },
      {
        toolCalls: [
          {
            name: 'python',
            arguments: {
              code: 'import json,sqlite3\nprint(sum(i["price"] for i in json.load(open("items.json"))["items"]))\nprint(sqlite3.connect("shop.db").execute("select count(*) from t").fetchone()[0])\nopen("out.txt","w").write("from python\\n")',
            },
          },
        ],
      },
      { text: ['All three ran.'] },
    );
    const r = await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'total the prices three ways' });
    expect(r.stopReason).toBe('end_turn');
    const toolOf = new Map(
      seen.flatMap((e) => (e.event.type === 'tool_call' ? [[e.event.callId, e.event.tool] as const] : [])),
    );
    const done = new Map(
      seen.flatMap((e) =>
        e.event.type === 'tool_call_update' && (e.event.status === 'completed' || e.event.status === 'failed')
          ? [[toolOf.get(e.event.callId), e.event] as const]
          : [],
      ),
    );
    expect([...done.values()].map((u) => u.status)).toEqual(['completed', 'completed', 'completed']);
    expect(done.get('jq')!.content).toContain('6.5');
    expect(done.get('sqlite')!.content).toContain('42');
    expect(done.get('python')!.content).toContain('6.5\n2');

    // The database and python's file exist only in the shadow workspace until accepted.
    expect(existsSync(path.join(ws, 'shop.db'))).toBe(false);
    expect(existsSync(path.join(ws, 'out.txt'))).toBe(false);
    const diff = await c.request(ShadowDiff, { sessionId: s.sessionId });
    expect(diff.files.map((f) => f.path).sort()).toEqual(['out.txt', 'shop.db']);

    // A person can call a bundle tool directly through the same policy and audit (what `shadowbox wasi run` does).
    const direct = await c.request(ToolsCall, {
      sessionId: s.sessionId,
      tool: 'run_bundle',
      input: { bundle: 'jq', args: ['-c', '.items | length', 'items.json'] },
    });
    expect(direct.isError).toBe(false);
    expect(direct.content).toContain('2');
    expect(await readFile(path.join(ws, 'items.json'), 'utf8')).toContain('"price":4');
    c.dispose();
  }, 120_000);

  // The bundle tools load once the daemon serves: a request that uses tools waits for them, never sees the tool set
  // without them. Each case is the first thing a fresh daemon is asked.
  it.each(['a direct tools/call', 'a first turn'])(
    'right after a start, %s in a new session finds the bundle tools',
    async (what) => {
      const ws = await makeTempDir('ws');
      await writeFile(path.join(ws, 'n.json'), '[1,2,3]');
      const fresh = await startTestDaemon({ web: false, env: modelEnv() });
      try {
        const c = await fresh.connect('first');
        const s = await c.request(SessionCreate, { workspace: ws });
        if (what === 'a direct tools/call') {
          const r = await c.request(ToolsCall, {
            sessionId: s.sessionId,
            tool: 'jq',
            input: { filter: 'add', file: 'n.json' },
          });
          expect(r.isError).toBe(false);
          expect(r.content).toContain('6');
        } else {
          const seen: SessionEvent[] = [];
          c.onEvent((e) => seen.push(e));
          model.push({ toolCalls: [{ name: 'jq', arguments: { filter: 'length', file: 'n.json' } }] }, { text: ['3'] });
          expect((await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'count' })).stopReason).toBe(
            'end_turn',
          );
          const update = seen.find(
            (e) =>
              e.event.type === 'tool_call_update' && (e.event.status === 'completed' || e.event.status === 'failed'),
          );
          expect(update?.event).toMatchObject({ status: 'completed' });
          // The model was offered jq in that first request.
          expect(model.requests.at(-2)?.body).toMatchObject({
            tools: expect.arrayContaining([
              expect.objectContaining({ function: expect.objectContaining({ name: 'jq' }) }),
            ]),
          });
        }
        c.dispose();
      } finally {
        await fresh.stop();
        await fresh.cleanup();
      }
    },
    60_000,
  );
});
