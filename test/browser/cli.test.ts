import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir, runCli } from '../helpers/daemon.js';

// `shadowbox web`: starts the daemon when none runs, prints the URL with the token in the fragment only.
describe('shadowbox web', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    const { rm } = await import('node:fs/promises');
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('auto-starts the daemon, prints the page URL with token and workspace in the fragment, and --open hands it to $BROWSER', async () => {
    const stateDir = await makeTempDir();
    dirs.push(stateDir);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      SHADOWBOX_STATE_DIR: stateDir,
      SHADOWBOX_SOCKET: path.join(stateDir, 'daemon.sock'),
    };
    delete env.NODE_OPTIONS;
    try {
      const r = await runCli(['web', '--json', '--workspace', '/tmp'], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const { url, webUrl } = JSON.parse(r.stdout) as { url: string; webUrl: string };
      const token = (await readFile(path.join(stateDir, 'ws.token'), 'utf8')).trim();
      const u = new URL(url);
      expect(`${u.origin}/`).toBe(webUrl);
      expect(u.search).toBe('');
      expect(new URLSearchParams(u.hash.slice(1)).get('token')).toBe(token);
      expect(new URLSearchParams(u.hash.slice(1)).get('workspace')).toBe('/tmp');
      expect(webUrl).not.toContain(token);
      expect((await fetch(webUrl)).headers.get('content-type')).toBe('text/html; charset=utf-8');

      const seen = path.join(stateDir, 'browser-args');
      const opener = path.join(stateDir, 'fake-browser.sh');
      await writeFile(opener, `#!/bin/sh\nprintf '%s' "$1" > '${seen}'\n`);
      await chmod(opener, 0o755);
      const o = await runCli(['web', '--open'], { ...env, BROWSER: opener });
      expect(o.code).toBe(0);
      await expect.poll(() => readFile(seen, 'utf8').catch(() => '')).toBe(o.stdout.trim());

      const bad = await runCli(['web', '--open'], { ...env, BROWSER: path.join(stateDir, 'no-such-browser') });
      expect(bad.code).toBe(0);
      expect(bad.stderr).toContain('open the URL above by hand');
    } finally {
      await runCli(['stop'], env);
    }
  });
});
