// The config file: a default model from config.json, and a broken file stops the daemon with one sentence.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SessionCreate, ToolsCall } from '@shadowbox/protocol';
import { makeTempDir, runCli, startTestDaemon } from '../helpers/daemon.js';

describe('config.json', () => {
  it('sets the default model and mode of new sessions', async () => {
    const stateDir = await makeTempDir('st');
    await writeFile(
      path.join(stateDir, 'config.json'),
      JSON.stringify({ model: 'anthropic/claude-from-config', mode: 'read-only' }),
    );
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.SHADOWBOX_MODEL;
    const d = await startTestDaemon({ stateDir, env });
    try {
      const c = await d.connect();
      const s = await c.request(SessionCreate, { workspace: await makeTempDir('ws') });
      expect(s.model).toBe('anthropic/claude-from-config');
      expect(s.mode).toBe('read-only');
    } finally {
      await d.stop();
      await d.cleanup();
    }
  });

  it('bounds every sandboxed run by wasi.maxLimits', async () => {
    const stateDir = await makeTempDir('st');
    await writeFile(
      path.join(stateDir, 'config.json'),
      JSON.stringify({ wasi: { runner: 'inprocess', maxLimits: { wallMs: 400 } } }),
    );
    const d = await startTestDaemon({ stateDir, web: false });
    try {
      const c = await d.connect();
      const s = await c.request(SessionCreate, { workspace: await makeTempDir('ws') });
      // The query never ends and the bundle's own limit is 60 s (more than a test may take): the call
      // returning at all is the config's 400 ms cap at work.
      const r = await c.request(ToolsCall, {
        sessionId: s.sessionId,
        tool: 'sqlite',
        input: { sql: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c;' },
      });
      expect(r.isError).toBe(true);
      expect(r.data?.outcome).toBe('timeout');
    } finally {
      await d.stop();
      await d.cleanup();
    }
  });

  it('refuses to start on an invalid file, naming the file and the field', async () => {
    const stateDir = await makeTempDir('st');
    const home = await makeTempDir('home');
    await mkdir(path.join(home, '.config', 'shadowbox'), { recursive: true });
    await writeFile(path.join(home, '.config', 'shadowbox', 'config.json'), JSON.stringify({ model: 'no-slash' }));
    const r = await runCli(['daemon', '--no-web'], {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: '',
      SHADOWBOX_STATE_DIR: stateDir,
      SHADOWBOX_SOCKET: path.join(stateDir, 's.sock'),
    });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('config.json: model: model must look like');
  });
});
