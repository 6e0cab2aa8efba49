// The agent features in `shadowbox chat` on a pipe (plain text): the live plan's final checklist, the turn
// footer with cached tokens and cost, instruction files in effect, an image named by its path, /rewind,
// /compact and /init as the daemon executes them.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, runCli, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, type ModelServer, openaiEnv } from '../model-server/index.js';

const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

describe('shadowbox chat: plans, usage, instructions, images, rewind, compact, init', () => {
  let d: TestDaemon;
  let model: ModelServer;
  beforeAll(async () => {
    model = await startModelServer();
    const stateDir = await makeTempDir('st');
    await writeFile(
      path.join(stateDir, 'config.json'),
      JSON.stringify({ models: { 'openai/test-model': { images: true, prices: { input: 2, output: 10 } } } }),
    );
    d = await startTestDaemon({
      web: false,
      stateDir,
      env: openaiEnv(model),
    });
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
    await model?.close();
  });

  it('shows the plan, the footer, the instruction files and an attached image; runs /rewind, /compact and /init', async () => {
    const ws = await makeTempDir('ws');
    await writeFile(path.join(ws, 'AGENTS.md'), 'Use tabs.\n');
    await mkdir(path.join(ws, 'img'));
    await writeFile(path.join(ws, 'img', 'dot.png'), PNG);
    model.push(
      {
        toolCalls: [
          {
            name: 'plan',
            arguments: {
              items: [
                { content: 'look at the picture', status: 'done' },
                { content: 'write notes', status: 'in_progress' },
              ],
            },
          },
        ],
        usage: { input: 1000, output: 20, cached: 600 },
      },
      {
        toolCalls: [{ name: 'write_file', arguments: { path: 'notes.txt', content: 'a dot\n' } }],
        usage: { input: 1200, output: 20, cached: 900 },
      },
      { text: ['It is a dot.'], usage: { input: 1300, output: 10, cached: 1000 } },
      // /init
      { toolCalls: [{ name: 'write_file', arguments: { path: 'AGENTS.md', content: 'Use tabs. Run tests.\n' } }] },
      { text: ['AGENTS.md proposed.'] },
      // /compact
      { text: ['## Task\nDescribe a picture.'] },
    );
    const out = await runCli(
      ['chat', '--workspace', ws],
      { ...d.env, FORCE_COLOR: '0' },
      { cwd: ws, input: 'what is in img/dot.png?\n/init\n/compact\n/rewind 1\n' },
    );
    expect(out.code).toBe(0);
    const o = out.stdout;
    expect(o).toContain('attached image dot.png');
    expect(o).toContain('instructions in effect: AGENTS.md');
    expect(o).toMatch(/plan · 1\/2 done\n {2}✓ look at the picture\n {2}▸ write notes/);
    // 3,500 in, 2,500 cached, 50 out: (1000·2 + 2500·2 + 50·10) / 1e6 = $0.0075
    expect(o).toContain('3,500 tokens in (2,500 cached) / 50 out · $0.0075');
    expect(o).toContain('`/accept AGENTS.md` keeps it');
    expect(o).toMatch(/Summarized \d+ message\(s\)/);
    expect(o).toContain('Rewound 1 turn(s)');
    expect(o).toContain('AGENTS.md');
    const sent = JSON.stringify(model.requests.find((r) => JSON.stringify(r.body).includes('dot.png'))?.body);
    expect(sent).toContain(`data:image/png;base64,${PNG.toString('base64')}`);
  });
});
