// The daemon's spawner process (daemon/src/spawner/) in a real daemon: it starts with a turn (or a first program run),
// not when a session opens; grep's rg runs from it, `daemon stop` ends it, and a daemon killed with SIGKILL leaves
// neither it nor a program it ran behind.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SessionCreate, SessionList, SessionPrompt, ToolsCall } from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { startModelServer, openaiEnv } from '../model-server/index.js';

const hasRg = ['/usr/bin/rg', '/usr/local/bin/rg', '/bin/rg'].some(existsSync);

/** Whether a process runs (a zombie counts as gone). */
const alive = (pid: number) => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};
const childrenOf = (pid: number) =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');

/** The daemon's spawner processes running now. */
const spawnersOf = (d: TestDaemon) =>
  childrenOf(d.pid).filter((k) => cmdline(k).some((a) => /spawner\.cjs$|child\.js$/.test(a)));

/** The daemon's spawner process, once it runs. */
async function spawnerOf(d: TestDaemon): Promise<number> {
  let found: number | undefined;
  await expect.poll(() => (found = spawnersOf(d)[0]), { timeout: 20_000 }).toBeDefined();
  return found!;
}

let daemons: TestDaemon[] = [];
afterEach(async () => {
  for (const d of daemons) {
    await d.stop().catch(() => undefined);
    await d.cleanup();
  }
  daemons = [];
});

describe.skipIf(!hasRg)("the daemon's spawner process", () => {
  it('starts with a turn, not when a session opens; grep finds the same lines through it; daemon stop ends it', async () => {
    const model = await startModelServer();
    try {
      const env = openaiEnv(model, 'openai/m');
      const d = await startTestDaemon({ web: false, env });
      daemons.push(d);
      const ws = await makeTempDir('ws');
      for (let i = 0; i < 300; i++) {
        await mkdir(path.join(ws, `d${i % 10}`), { recursive: true });
        await writeFile(path.join(ws, `d${i % 10}`, `f${i}.txt`), `line\nneedle ${i}\n`);
      }
      const c = await d.connect('t', { permissions: false });
      const { sessionId } = await c.request(SessionCreate, { workspace: ws });
      // A direct call made right after session/create does not share the cores with the spawner's Node start.
      await c.request(SessionList, {});
      expect(spawnersOf(d)).toEqual([]);
      model.push({ text: ['ok'] });
      await c.request(SessionPrompt, { sessionId, text: 'hello' });
      const spawner = await spawnerOf(d);
      const r = await c.request(ToolsCall, { sessionId, tool: 'grep', input: { pattern: 'needle 2\\d\\d$' } });
      expect(r.isError).toBe(false);
      expect(r.content.split('\n').filter((l) => /:2: needle 2\d\d$/.test(l))).toHaveLength(100);
      c.dispose();
      await d.stop();
      await expect.poll(() => alive(spawner)).toBe(false);
    } finally {
      await model.close();
    }
  });

  it('without a turn, the first program run starts it; a daemon killed with SIGKILL leaves no spawner behind', async () => {
    const d = await startTestDaemon({ web: false });
    daemons.push(d);
    const ws = await makeTempDir('ws');
    await writeFile(path.join(ws, 'a.txt'), 'needle\n');
    const c = await d.connect('t', { permissions: false });
    const { sessionId } = await c.request(SessionCreate, { workspace: ws });
    const r = await c.request(ToolsCall, { sessionId, tool: 'grep', input: { pattern: 'needle' } });
    expect(r.content).toContain('a.txt');
    const spawner = await spawnerOf(d);
    await d.kill();
    await expect.poll(() => alive(spawner)).toBe(false);
  });
});
