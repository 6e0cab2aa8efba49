// What people expect of a coding agent, end to end: a real daemon, both wire formats against the scripted
// model server — plans, usage with cached tokens and cost, project instructions, slash commands, rewind,
// images, and the fetch tool under the net capability's checks.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PolicySetRules,
  SessionAttach,
  SessionCommand,
  SessionCreate,
  SessionList,
  SessionPrompt,
  SessionRewind,
  ShadowFile,
  ShadowStatus,
  type SessionEvent,
} from '@shadowbox/protocol';
import type { ShadowboxClient } from '@shadowbox/client';
import { makeTempDir, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, type RecordedRequest, openaiEnv } from '../model-server/index.js';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
).toString('base64');

/** The text of every message of a recorded request (system prompt included), for `contains` checks. */
function bodyText(r: RecordedRequest): string {
  return JSON.stringify(r.body);
}
function systemOf(r: RecordedRequest): string {
  const b = r.body as { system?: unknown; messages?: Array<{ role: string; content: unknown }> };
  if (typeof b.system === 'string') return b.system;
  const sys = b.messages?.find((m) => m.role === 'system');
  return typeof sys?.content === 'string' ? sys.content : '';
}

for (const provider of ['openai', 'anthropic'] as const) {
  describe(`agent features over ${provider}`, () => {
    let model: ModelServer;
    let d: TestDaemon;
    let userConfig: string;
    let stateDir: string;
    let c: ShadowboxClient;
    const events: SessionEvent[] = [];
    const spec = `${provider}/test-model`;
    beforeAll(async () => {
      model = await startModelServer();
      stateDir = await makeTempDir('st');
      userConfig = await makeTempDir('xdg');
      await mkdir(path.join(userConfig, 'shadowbox'), { recursive: true });
      await writeFile(path.join(userConfig, 'shadowbox', 'AGENTS.md'), 'USER-LEVEL: answer in English.\n');
      await writeFile(
        path.join(stateDir, 'config.json'),
        JSON.stringify({
          models: {
            [spec]: { prices: { input: 3, output: 15, cachedInput: 0.3, cacheWrite: 3.75 } },
            [`${provider}/vision-model`]: { images: true },
          },
        }),
      );
      const env =
        provider === 'openai'
          ? openaiEnv(model, spec)
          : { SHADOWBOX_MODEL: spec, ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: 'k' };
      d = await startTestDaemon({ web: false, stateDir, env: { ...env, XDG_CONFIG_HOME: userConfig } });
      c = await d.connect('features');
      c.onEvent((e) => events.push(e));
    });
    afterAll(async () => {
      await d?.stop();
      await d?.cleanup();
      await model?.close();
    });

    const session = async (files: Record<string, string> = {}, mode?: 'review' | 'auto' | 'read-only') => {
      const ws = await makeTempDir('ws');
      for (const [p, text] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(ws, p)), { recursive: true });
        await writeFile(path.join(ws, p), text);
      }
      const s = await c.request(SessionCreate, { workspace: ws, ...(mode ? { mode } : {}) });
      return { ws, id: s.sessionId };
    };
    const of = (id: string, type: string) => events.filter((e) => e.sessionId === id && e.event.type === type);

    it('the plan tool updates a checklist as session events; session info carries the latest plan', async () => {
      const { id } = await session({}, 'read-only');
      model.push(
        {
          toolCalls: [
            {
              name: 'plan',
              arguments: {
                items: [
                  { content: 'read the code', status: 'in_progress' },
                  { content: 'fix the bug', status: 'pending' },
                ],
              },
            },
          ],
        },
        {
          toolCalls: [
            {
              name: 'plan',
              arguments: {
                items: [
                  { content: 'read the code', status: 'done' },
                  { content: 'fix the bug', status: 'in_progress' },
                ],
              },
            },
          ],
        },
        { text: ['planned'] },
      );
      const r = await c.request(SessionPrompt, { sessionId: id, text: 'plan it' });
      expect(r.stopReason).toBe('end_turn');
      const plans = of(id, 'plan').map((e) => (e.event as { items: unknown[] }).items);
      expect(plans).toHaveLength(2);
      expect(plans[1]).toEqual([
        { content: 'read the code', status: 'done' },
        { content: 'fix the bug', status: 'in_progress' },
      ]);
      // Allowed in read-only mode (it touches nothing), and the tool result tells the model what is open.
      const done = of(id, 'tool_call_update').filter((e) => (e.event as { status: string }).status === 'completed');
      expect(done).toHaveLength(2);
      const info = (await c.request(SessionList, {})).sessions.find((s) => s.sessionId === id)!;
      expect(info.plan?.[1].status).toBe('in_progress');
    });

    it('usage per call with cached tokens and cost from config prices: in events, turn_end, the prompt result and session info', async () => {
      const { id } = await session();
      model.push(
        {
          toolCalls: [{ name: 'list_dir', arguments: { path: '.' } }],
          usage: { input: 1000, output: 50, cached: 800, cacheWrite: 100 },
        },
        { text: ['ok'], usage: { input: 2000, output: 10, cached: 1500 } },
      );
      const r = await c.request(SessionPrompt, { sessionId: id, text: 'look around' });
      expect(r.usage).toMatchObject({ inputTokens: 3000, outputTokens: 60, cachedInputTokens: 2300 });
      // Anthropic reports cache writes: (1000-800-100)·3 + 800·0.3 + 100·3.75 + 50·15 = 1665; OpenAI does not:
      // (1000-800)·3 + 800·0.3 + 50·15 = 1590; then (2000-1500)·3 + 1500·0.3 + 10·15 = 2100; per million tokens.
      const first = provider === 'anthropic' ? 1665 : 1590;
      expect(r.usage?.costUsd).toBeCloseTo((first + 2100) / 1e6, 6);
      const usage = of(id, 'usage').map((e) => e.event as { cachedInputTokens: number; costUsd?: number });
      expect(usage.map((u) => u.cachedInputTokens)).toEqual([800, 1500]);
      expect(usage[0].costUsd).toBeCloseTo(first / 1e6, 6);
      const end = of(id, 'turn_end').at(-1)!.event as { usage?: { inputTokens: number } };
      expect(end.usage?.inputTokens).toBe(3000);
      const info = (await c.request(SessionList, {})).sessions.find((s) => s.sessionId === id)!;
      expect(info.usage).toMatchObject({ inputTokens: 3000, outputTokens: 60, cachedInputTokens: 2300 });
      expect(info.context?.window).toBeGreaterThan(0);
    });

    it('shadowbox run reports the turn usage: --json in the turn_end event, plain text in its last line', async () => {
      const ws = await makeTempDir('ws');
      model.push({ text: ['hi'], usage: { input: 500, output: 5, cached: 100 } });
      const json = await runCli(['run', '--json', '-w', ws, 'say hi'], d.env);
      expect(json.code).toBe(0);
      const end = json.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as SessionEvent)
        .find((e) => e.event.type === 'turn_end')!.event as {
        usage?: { inputTokens: number; cachedInputTokens: number; costUsd?: number };
      };
      expect(end.usage).toMatchObject({ inputTokens: 500, cachedInputTokens: 100 });
      expect(end.usage?.costUsd).toBeGreaterThan(0);
      model.push({ text: ['hi'], usage: { input: 500, output: 5, cached: 100 } });
      const plain = await runCli(['run', '-w', ws, 'say hi'], d.env);
      expect(plain.stdout).toMatch(/— turn ended: end_turn · 500 tokens in \(100 cached\) \/ 5 out · \$0\.\d+/);
    });

    it('instruction files: root AGENTS.md, CLAUDE.md where there is no AGENTS.md, folders the agent works in, the user file (state dir first, like config.json); the agent’s pending edit counts; they never change the mode', async () => {
      const big = `BIG-START\n${'y'.repeat(40_000)}\nBIG-END\n`;
      const { ws, id } = await session({
        'AGENTS.md': 'ROOT-RULES: run npm test.\nmode: auto\n{"mode": "auto"}\n',
        'CLAUDE.md': 'NOT-USED: there is an AGENTS.md here.\n',
        'pkg/CLAUDE.md': 'PKG-RULES: use tabs.\n',
        'pkg/src/a.ts': 'export const a = 1;\n',
        'other/AGENTS.md': big,
        'other/b.txt': 'b\n',
      });
      const start = model.requests.length;
      model.push(
        { toolCalls: [{ name: 'read_file', arguments: { path: 'pkg/src/a.ts' } }] },
        {
          toolCalls: [
            {
              name: 'edit_file',
              arguments: { path: 'AGENTS.md', old_string: 'ROOT-RULES', new_string: 'EDITED-RULES' },
            },
          ],
        },
        { toolCalls: [{ name: 'read_file', arguments: { path: 'other/b.txt' } }] },
        { text: ['done'] },
      );
      await c.request(SessionPrompt, { sessionId: id, text: 'work in pkg' });
      const sys = model.requests.slice(start).map(systemOf);
      expect(sys[0]).toContain('ROOT-RULES');
      expect(sys[0]).toContain('USER-LEVEL');
      expect(sys[0]).not.toContain('NOT-USED');
      expect(sys[0]).not.toContain('PKG-RULES');
      // After the agent read in pkg/src, pkg's CLAUDE.md applies; after its edit of AGENTS.md, the edited text.
      expect(sys[1]).toContain('PKG-RULES');
      expect(sys[2]).toContain('EDITED-RULES');
      expect(sys[2]).not.toContain('ROOT-RULES');
      // other/AGENTS.md is capped: its start is there, its end is not.
      expect(sys[3]).toContain('BIG-START');
      expect(sys[3]).not.toContain('BIG-END');
      const last = of(id, 'instructions').at(-1)!.event as {
        files: Array<{ path: string; truncated: boolean; scope: string }>;
      };
      expect(last.files.map((f) => f.path)).toEqual([
        path.join(userConfig, 'shadowbox', 'AGENTS.md'),
        'AGENTS.md',
        'other/AGENTS.md',
        'pkg/CLAUDE.md',
      ]);
      expect(last.files.find((f) => f.path === 'other/AGENTS.md')?.truncated).toBe(true);
      // "mode: auto" in a project file is text for the model, never a setting: the edit waited in the shadow.
      const info = (await c.request(SessionList, {})).sessions.find((s) => s.sessionId === id)!;
      expect(info.mode).toBe('review');
      expect(info.instructions).toHaveLength(4);
      expect(await readFile(path.join(ws, 'AGENTS.md'), 'utf8')).toContain('ROOT-RULES');
      // The person's file is found like config.json: the state dir's AGENTS.md comes before the XDG one.
      const stateFile = path.join(stateDir, 'AGENTS.md');
      await writeFile(stateFile, 'STATE-DIR-RULES: be brief.\n');
      try {
        const before = model.requests.length;
        model.push({ text: ['ok'] });
        await c.request(SessionPrompt, { sessionId: id, text: 'again' });
        const next = systemOf(model.requests[before]);
        expect(next).toContain('STATE-DIR-RULES');
        expect(next).not.toContain('USER-LEVEL');
        const now = of(id, 'instructions').at(-1)!.event as { files: Array<{ path: string; scope: string }> };
        expect(now.files[0]).toMatchObject({ path: stateFile, scope: 'user' });
      } finally {
        await rm(stateFile);
      }
    });

    it('slash commands run in the daemon: /init writes AGENTS.md as a reviewable change, /review, /accept FILE#HUNK, /reject, /undo, /mode, /model', async () => {
      const { ws, id } = await session({ 'a.txt': 'one\ntwo\n', 'b.txt': 'b\n' });
      model.push(
        {
          toolCalls: [{ name: 'write_file', arguments: { path: 'AGENTS.md', content: '# Agents\nRun the tests.\n' } }],
        },
        { text: ['Wrote AGENTS.md.'] },
      );
      const init = await c.request(SessionCommand, { sessionId: id, command: 'init' });
      expect(init.text).toContain('AGENTS.md');
      expect(JSON.stringify(model.requests.at(-2)!.body)).toContain('Write an AGENTS.md');
      const userMsg = of(id, 'user_message').at(-1)!.event as { command?: string };
      expect(userMsg.command).toBe('init');
      model.push(
        {
          toolCalls: [
            { name: 'write_file', arguments: { path: 'a.txt', content: 'ONE\ntwo\n' } },
            { name: 'write_file', arguments: { path: 'b.txt', content: 'B\n' } },
          ],
        },
        { text: ['edited'] },
      );
      await c.request(SessionPrompt, { sessionId: id, text: 'edit' });
      const review = await c.request(SessionCommand, { sessionId: id, command: 'review' });
      expect(review.text).toContain('a.txt');
      const hunk = (
        review.data as { diff: { files: Array<{ path: string; hunks: Array<{ id: string }> }> } }
      ).diff.files.find((f) => f.path === 'a.txt')!.hunks[0].id;
      expect(review.text).toContain(hunk);
      const acc = await c.request(SessionCommand, { sessionId: id, command: 'accept', args: hunk });
      expect(acc.text).toContain('a.txt');
      expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('ONE\ntwo\n');
      const rej = await c.request(SessionCommand, { sessionId: id, command: 'reject', args: 'b.txt' });
      expect(rej.text).toContain('b.txt');
      const undo = await c.request(SessionCommand, { sessionId: id, command: 'undo' });
      expect(undo.text).toContain('a.txt');
      expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('one\ntwo\n');
      // The undone hunk is pending again; AGENTS.md never reached the person's files without an accept.
      const status = await c.request(ShadowStatus, { sessionId: id });
      expect(status.files.map((f) => f.path)).toEqual(['AGENTS.md', 'a.txt']);
      expect((await c.request(SessionCommand, { sessionId: id, command: 'mode', args: 'auto' })).text).toBe(
        'Mode: auto.',
      );
      expect((await c.request(SessionCommand, { sessionId: id, command: 'model' })).text).toBe(`Model: ${spec}.`);
      await expect(c.request(SessionCommand, { sessionId: id, command: 'mode', args: 'yolo' })).rejects.toMatchObject({
        data: { reason: 'bad_command_arguments' },
      });
    });

    it('/rewind puts the conversation and the shadow back to the end of an earlier turn; later turns stay in the log; the person’s files never change', async () => {
      const { ws, id } = await session({ 'a.txt': 'v0\n', 'keep.txt': 'k0\n' });
      model.push(
        {
          toolCalls: [
            { name: 'write_file', arguments: { path: 'a.txt', content: 'v1\n' } },
            { name: 'write_file', arguments: { path: 'keep.txt', content: 'k1\n' } },
          ],
        },
        { text: ['turn one done: TURN-ONE-ANSWER'] },
      );
      await c.request(SessionPrompt, { sessionId: id, text: 'first: TURN-ONE-PROMPT' });
      model.push(
        {
          toolCalls: [
            { name: 'write_file', arguments: { path: 'a.txt', content: 'v2\n' } },
            { name: 'write_file', arguments: { path: 'new.txt', content: 'n\n' } },
          ],
        },
        { text: ['turn two done: TURN-TWO-ANSWER'] },
      );
      await c.request(SessionPrompt, { sessionId: id, text: 'second: TURN-TWO-PROMPT' });
      const turnTwo = (of(id, 'user_message').at(-1)!.event as { turnId: string }).turnId;
      const r = await c.request(SessionRewind, { sessionId: id, toTurn: 1 });
      expect(r.rewound).toEqual([turnTwo]);
      expect(r.files.sort()).toEqual(['a.txt', 'new.txt']);
      expect((await c.request(ShadowFile, { sessionId: id, path: 'a.txt' })).shadow).toBe('v1\n');
      expect((await c.request(ShadowFile, { sessionId: id, path: 'new.txt' })).shadow).toBeNull();
      expect((await c.request(ShadowFile, { sessionId: id, path: 'keep.txt' })).shadow).toBe('k1\n');
      expect(await readFile(path.join(ws, 'a.txt'), 'utf8')).toBe('v0\n');
      // The next model call sees turn one and not turn two.
      model.push({ text: ['after rewind'] });
      await c.request(SessionPrompt, { sessionId: id, text: 'third' });
      const sent = bodyText(model.requests.at(-1)!);
      expect(sent).toContain('TURN-ONE-ANSWER');
      expect(sent).not.toContain('TURN-TWO');
      // The log keeps turn two, marked by the rewind event; a re-attach sees both.
      const again = await c.request(SessionAttach, { sessionId: id, fromSeq: 0 });
      expect(
        again.history.some((e) => e.event.type === 'user_message' && e.event.text.includes('TURN-TWO-PROMPT')),
      ).toBe(true);
      expect(again.history.find((e) => e.event.type === 'rewind')?.event).toMatchObject({ rewound: [turnTwo] });
      // Unknown and empty rewinds are typed refusals.
      await expect(c.request(SessionRewind, { sessionId: id, toTurn: 9 })).rejects.toMatchObject({
        data: { reason: 'turn_not_found' },
      });
      const cmd = await c.request(SessionCommand, { sessionId: id, command: 'rewind', args: '0' });
      expect(cmd.text).toContain('Rewound 2 turn(s)');
      await expect(c.request(SessionRewind, { sessionId: id, toTurn: 0 })).rejects.toMatchObject({
        data: { reason: 'nothing_to_rewind' },
      });
      expect((await c.request(ShadowStatus, { sessionId: id })).files).toEqual([]);
    });

    it('images go to a vision model in its wire format; a model without images refuses the prompt with a typed error', async () => {
      const { id } = await session();
      await expect(
        c.request(SessionPrompt, {
          sessionId: id,
          text: 'what is this?',
          images: [{ mimeType: 'image/png', data: PNG }],
        }),
      ).rejects.toMatchObject({ data: { reason: 'images_not_supported' } });
      await c.request(SessionCommand, { sessionId: id, command: 'model', args: `${provider}/vision-model` });
      model.push({ text: ['a pixel'] });
      const r = await c.request(SessionPrompt, {
        sessionId: id,
        text: 'what is this?',
        images: [{ mimeType: 'image/png', data: PNG, name: 'dot.png' }],
      });
      expect(r.stopReason).toBe('end_turn');
      const body = bodyText(model.requests.at(-1)!);
      if (provider === 'openai') expect(body).toContain(`data:image/png;base64,${PNG}`);
      else expect(body).toContain('"type":"image","source":{"type":"base64","media_type":"image/png"');
      const msg = of(id, 'user_message').at(-1)!.event as { images?: Array<{ name?: string }> };
      expect(msg.images?.[0].name).toBe('dot.png');
    });
  });
}

describe('the fetch tool', () => {
  let model: ModelServer;
  let d: TestDaemon;
  let web: Server;
  let port: number;
  let c: ShadowboxClient;
  beforeAll(async () => {
    model = await startModelServer();
    web = createServer((req, res) => {
      if (req.url === '/doc')
        res.end(
          '<html><head><style>.x{}</style><script>steal()</script></head><body><nav>menu</nav><h1>API</h1><p>Call <code>f(x)</code> <a href="javascript:evil()">here</a> or <a href="https://example.org/a">there</a>.</p></body></html>',
        );
      else if (req.url === '/away') res.writeHead(302, { location: 'http://localhost:1/elsewhere' }).end();
      else if (req.url === '/bin') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end('\x00\x01');
      else res.writeHead(404).end('no');
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    port = (web.address() as AddressInfo).port;
    d = await startTestDaemon({ web: false, env: openaiEnv(model) });
    c = await d.connect('fetch');
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
    await model?.close();
    await new Promise((r) => web.close(r));
  });

  const fetchOnce = async (sessionId: string, url: string) => {
    const events: SessionEvent[] = [];
    const off = c.onEvent((e) => e.sessionId === sessionId && events.push(e));
    model.push({ toolCalls: [{ name: 'fetch', arguments: { url } }] }, { text: ['read it'] });
    await c.request(SessionPrompt, { sessionId, text: `fetch ${url}` });
    off();
    return events.find((e) => e.event.type === 'tool_call_update' && e.event.status !== 'running')!.event as {
      status: string;
      content: string;
      reason?: string;
    };
  };

  it('refuses a non-public address exactly as netFetch does, even in auto mode, without a rule naming it', async () => {
    const ws = await makeTempDir('ws');
    const s = await c.request(SessionCreate, { workspace: ws, mode: 'auto' });
    const r = await fetchOnce(s.sessionId, `http://127.0.0.1:${port}/doc`);
    expect(r.status).toBe('failed');
    expect(r.reason).toBe('address_not_allowed');
    const r2 = await fetchOnce(s.sessionId, `http://[::ffff:127.0.0.1]:${port}/doc`);
    expect(r2.reason).toBe('address_not_allowed');
  });

  it('with a rule naming the address and port: HTML becomes sanitized markdown; a redirect to a host the policy has not allowed and binary content are typed refusals', async () => {
    const ws = await makeTempDir('ws');
    const s = await c.request(SessionCreate, { workspace: ws, mode: 'review' });
    await c.request(PolicySetRules, { workspace: ws, add: [{ action: 'allow', host: '127.0.0.1', port }] });
    const ok = await fetchOnce(s.sessionId, `http://127.0.0.1:${port}/doc`);
    expect(ok.status).toBe('completed');
    expect(ok.content).toContain('# API');
    expect(ok.content).toContain('`f(x)`');
    expect(ok.content).toContain('[there](https://example.org/a)');
    expect(ok.content).not.toContain('steal');
    expect(ok.content).not.toContain('javascript:');
    expect(ok.content).not.toContain('menu');
    const away = await fetchOnce(s.sessionId, `http://127.0.0.1:${port}/away`);
    expect(away.reason).toBe('fetch_redirected');
    expect(away.content).toContain('http://localhost:1/elsewhere');
    const bin = await fetchOnce(s.sessionId, `http://127.0.0.1:${port}/bin`);
    expect(bin.reason).toBe('fetch_not_text');
  });
});
