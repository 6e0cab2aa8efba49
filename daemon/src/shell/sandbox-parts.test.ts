// The sandbox's pure parts: the environment allowlist, bubblewrap's arguments, overlay option escaping,
// the capped output, and the command matcher policy rules use.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchCommand, simpleCommands } from '../policy/command.js';
import { overlayOptions, overlayPath } from './launch.js';
import { prlimitArgs, DEFAULT_SHELL_LIMITS, sweepStaleCgroups } from './limits.js';
import { CappedOutput } from './output.js';
import { probeSandbox } from './probe.js';
import { bwrapArgs, PROXY_PORT, sandboxEnv, SANDBOX_HOME } from './system-view.js';

describe('sandboxEnv', () => {
  const host = {
    PATH: '/home/me/.cargo/bin:/usr/local/bin:/usr/bin:/opt/evil/bin:/usr/../tmp',
    LANG: 'de_DE.UTF-8',
    LC_ALL: 'C.UTF-8',
    TERM: 'xterm-256color',
    ANTHROPIC_API_KEY: 'sk-ant-secret',
    OPENAI_API_KEY: 'sk-secret',
    SHADOWBOX_STATE_DIR: '/home/me/.local/state/shadowbox',
    SSH_AUTH_SOCK: '/run/user/1000/ssh',
    GITHUB_TOKEN: 'ghp_x',
    HOME: '/home/me',
  };

  it('passes only the allowlist: no keys, no SHADOWBOX_*, no SSH_AUTH_SOCK, a private HOME', () => {
    const env = sandboxEnv(host, false);
    expect(Object.keys(env).sort()).toEqual(['HOME', 'LANG', 'LC_ALL', 'PATH', 'SHELL', 'TERM', 'TMPDIR']);
    expect(env.HOME).toBe(SANDBOX_HOME);
    expect(JSON.stringify(env)).not.toMatch(/secret|ghp_|ssh|\/home\/me/);
  });

  it('PATH keeps only system folders the sandbox shows (no `..`)', () => {
    const dirs = sandboxEnv(host, false).PATH.split(':');
    expect(dirs.slice(0, 2)).toEqual(['/usr/local/bin', '/usr/bin']);
    expect(dirs).not.toContain('/opt/evil/bin');
    expect(dirs).not.toContain('/home/me/.cargo/bin');
    expect(dirs.some((d) => d.includes('..'))).toBe(false);
  });

  it('with network: the proxy variables point at the loopback port inside', () => {
    const env = sandboxEnv(host, true);
    expect(env.HTTPS_PROXY).toBe(`http://127.0.0.1:${PROXY_PORT}`);
    expect(env.http_proxy).toBe(env.HTTPS_PROXY);
    expect(sandboxEnv(host, false).HTTPS_PROXY).toBeUndefined();
  });
});

describe('bwrapArgs', () => {
  const a = bwrapArgs(
    {
      workspace: '/w/proj',
      merged: '/state/run/merged',
      gitDirs: ['/w/proj/.git'],
      proxySocket: null,
      uid: 1000,
      gid: 1000,
      tmpBytes: 1024,
    },
    { PATH: '/usr/bin', HOME: SANDBOX_HOME },
  );
  const pairAfter = (flag: string, v: string) => a.some((x, i) => x === flag && a[i + 1] === v);

  it('new namespaces, dies with its parent, clears the environment, read-only root', () => {
    for (const f of ['--unshare-all', '--die-with-parent', '--new-session', '--clearenv']) expect(a).toContain(f);
    expect(pairAfter('--remount-ro', '/')).toBe(true);
    // The environment is set after --clearenv.
    expect(a.indexOf('--setenv')).toBeGreaterThan(a.indexOf('--clearenv'));
  });

  it('the overlay at the workspace path, .git read-only, cwd the workspace; the host home is not mounted', () => {
    expect(a.join(' ')).toContain('--bind /state/run/merged /w/proj');
    expect(a.join(' ')).toContain('--ro-bind /w/proj/.git /w/proj/.git');
    expect(pairAfter('--chdir', '/w/proj')).toBe(true);
    expect(a.join(' ')).not.toMatch(/--(ro-)?bind \/home/);
    expect(a.join(' ')).not.toContain('/run/shadowbox');
  });
});

describe('overlay options', () => {
  it('escapes the characters that separate options and layers', () => {
    expect(overlayPath('/a,b:c\\d')).toBe('/a\\,b\\:c\\\\d');
    expect(overlayOptions(['/c', '/l,x', '/w'], { upper: '/u', work: '/k' })).toBe(
      'userxattr,volatile,lowerdir=/c:/l\\,x:/w,upperdir=/u,workdir=/k',
    );
    // Read-only mode: no upper layer at all.
    expect(overlayOptions(['/l', '/w'], null)).toBe('userxattr,lowerdir=/l:/w');
  });

  it('prlimit sets processes, memory, file size and no core dumps', () => {
    expect(prlimitArgs(DEFAULT_SHELL_LIMITS)).toEqual(
      expect.arrayContaining(['--nproc=512', `--data=${4 * 1024 ** 3}`, '--core=0']),
    );
  });
});

describe('CappedOutput', () => {
  it('keeps everything under the cap, both streams in arrival order', () => {
    const o = new CappedOutput(100);
    o.push('stdout', Buffer.from('a\n'));
    o.push('stderr', Buffer.from('e\n'));
    o.push('stdout', Buffer.from('b\n'));
    expect(o.result()).toEqual({
      stdout: 'a\nb\n',
      stderr: 'e\n',
      combined: 'a\ne\nb\n',
      truncated: false,
      totalBytes: 6,
    });
  });

  it('over the cap: the first and the last half with a marker, the total counted', () => {
    const o = new CappedOutput(20);
    o.push('stdout', Buffer.from('FIRST-----'));
    for (let i = 0; i < 1000; i++) o.push('stdout', Buffer.from('x'.repeat(100)));
    o.push('stdout', Buffer.from('-----LAST'));
    const r = o.result();
    expect(r.truncated).toBe(true);
    expect(r.totalBytes).toBe(100_019);
    expect(r.combined.startsWith('FIRST-----')).toBe(true);
    expect(r.combined.endsWith('x-----LAST')).toBe(true);
    expect(r.combined).toContain('bytes of output dropped');
  });

  it('a multi-byte character split between two reads stays whole', () => {
    const o = new CappedOutput(100);
    const b = Buffer.from('é');
    o.push('stdout', b.subarray(0, 1));
    o.push('stdout', b.subarray(1));
    expect(o.result().stdout).toBe('é');
  });
});

describe('command rules', () => {
  it('splits a line into its simple commands (quotes removed, assignments dropped)', () => {
    expect(simpleCommands('FOO=1 npm test && git push origin "main"; echo $(git push -f) | cat')).toEqual([
      'npm test',
      'git push origin main',
      'echo',
      'git push -f',
      'cat',
    ]);
    expect(simpleCommands('a\nb `c d`')).toEqual(['a', 'b', 'c d']);
  });

  it('a glob matches a whole simple command (* any text, ? one character)', () => {
    expect(matchCommand('git push*', 'git push origin main')).toBe(true);
    expect(matchCommand('git push*', 'git pushy')).toBe(true);
    expect(matchCommand('git push*', 'echo git push')).toBe(false);
    expect(matchCommand('npm test', 'npm test --watch')).toBe(false);
    expect(matchCommand('npm t?st*', 'npm test -- a')).toBe(true);
  });
});

describe('sweepStaleCgroups', () => {
  it('removes the empty run cgroups of daemons that are gone, and nothing else', async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'sbx-cg-'));
    const dead = spawnSync('true').pid; // exited: its pid is free
    const names = {
      gone: `shadowbox-${dead}-0123abcd`,
      goneBusy: `shadowbox-${dead}-4567cdef`,
      mine: `shadowbox-${process.pid}-89abcdef`,
      init: 'shadowbox-1-00000000',
      other: 'user.slice',
    };
    for (const n of Object.values(names)) mkdirSync(path.join(parent, n));
    // Not empty: as a cgroup with processes in it, rmdir refuses it.
    writeFileSync(path.join(parent, names.goneBusy, 'x'), '');
    expect(await sweepStaleCgroups('v2', [parent])).toBe(1);
    expect(existsSync(path.join(parent, names.gone))).toBe(false);
    for (const n of [names.goneBusy, names.mine, names.init, names.other])
      expect(existsSync(path.join(parent, n)), n).toBe(true);
  });
});

describe('probeSandbox', () => {
  it('works when the daemon’s PATH is a bare list of the programs it needs (an install with PATH stripped)', async (ctx) => {
    const full = await probeSandbox(mkdtempSync(path.join(os.tmpdir(), 'sbx-probe-')));
    if (!full.available) {
      console.log(`skipped: the host sandbox cannot run here (${full.missing.join('; ')})`);
      return ctx.skip();
    }
    // Only the sandbox's own programs, as links: no `true`, no `mount`, nothing of /usr/bin on this PATH.
    const bin = mkdtempSync(path.join(os.tmpdir(), 'sbx-bin-'));
    for (const [name, at] of Object.entries(full.programs)) symlinkSync(at, path.join(bin, name));
    // The daemon's own PATH is that list too (its children inherit it), as in the release install check.
    const saved = process.env.PATH;
    process.env.PATH = bin;
    let bare;
    try {
      bare = await probeSandbox(mkdtempSync(path.join(os.tmpdir(), 'sbx-probe-')), { PATH: bin });
    } finally {
      process.env.PATH = saved;
    }
    expect(bare.missing).toEqual([]);
    expect(bare.available).toBe(true);
  });
});
