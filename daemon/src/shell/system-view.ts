import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SYSTEM_PATH, systemLinks } from './probe.js';

/** Where things are inside the sandbox. */
export const SANDBOX_HOME = '/home/shadowbox';
/** The proxy's Unix socket inside the sandbox, and the loopback port socat serves it on. */
export const PROXY_SOCKET = '/run/shadowbox/proxy.sock';
export const PROXY_PORT = 3128;

/** Host variables a command sees (when set): locale, terminal, time zone, the user's name. Nothing else passes. */
const PASSED = ['LANG', 'LANGUAGE', 'TERM', 'TZ', 'USER', 'LOGNAME', 'COLORTERM'];

/**
 * Why: a command must not inherit the daemon's secrets — model keys, SHADOWBOX_* settings,
 * SSH_AUTH_SOCK, tokens — so its environment is built from an allowlist, never filtered from the
 * host's. PATH keeps only the host's entries inside the system folders the sandbox shows.
 */
export function sandboxEnv(host: NodeJS.ProcessEnv, network: boolean): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of PASSED) {
    const v = host[k];
    if (v !== undefined && v !== '') env[k] = v;
  }
  for (const [k, v] of Object.entries(host)) if (k.startsWith('LC_') && v) env[k] = v;
  const visible = (host.PATH ?? '').split(':').filter((d) => /^\/(usr|bin|sbin)(\/|$)/.test(d) && !d.includes('..'));
  env.PATH = [...new Set([...visible, ...SYSTEM_PATH.split(':')])].join(':');
  env.HOME = SANDBOX_HOME;
  env.TMPDIR = '/tmp';
  env.SHELL = '/bin/sh';
  env.TERM ??= 'dumb';
  if (network) {
    const url = `http://127.0.0.1:${PROXY_PORT}`;
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) env[k] = url;
    env.NO_PROXY = env.no_proxy = 'localhost,127.0.0.1,::1';
  }
  return env;
}

/** Paths inside /etc that hold host secrets readable by their owner: hidden even though /etc is shown. */
const ETC_HIDDEN_FILES = ['/etc/shadow', '/etc/gshadow', '/etc/shadow-', '/etc/gshadow-'];
const ETC_HIDDEN_DIRS = ['/etc/ssh', '/etc/ssl/private', '/etc/sudoers.d'];

/** What a run mounts where (all host paths absolute; `workspace` is the real workspace path). */
export interface SystemView {
  workspace: string;
  /** The overlay's merged folder (mounted by the launcher before bwrap starts). */
  merged: string;
  /** `.git` folders to show read-only at their own paths (the workspace's, a worktree's common dir, a parent repository's). */
  gitDirs: string[];
  /** The proxy's host socket when the run has network. */
  proxySocket: string | null;
  uid: number;
  gid: number;
  tmpBytes: number;
}

/**
 * Why: the bubblewrap arguments that make a command's world: system folders read-only, /etc without its
 * secret files, a private /tmp and empty home, a minimal /dev, a new /proc, every namespace new (the
 * network's too: only loopback), the workspace (the overlay) at its own path as the working directory,
 * `.git` read-only, nothing else of the host — not the state dir, not $HOME.
 */
export function bwrapArgs(v: SystemView, env: Record<string, string>): string[] {
  const a: string[] = ['--unshare-all', '--unshare-user', '--die-with-parent', '--new-session', '--disable-userns'];
  a.push('--uid', String(v.uid), '--gid', String(v.gid), '--hostname', 'shadowbox');
  a.push('--ro-bind', '/usr', '/usr', ...systemLinks(), '--ro-bind', '/etc', '/etc');
  for (const f of ETC_HIDDEN_FILES) if (existsSync(f)) a.push('--ro-bind', '/dev/null', f);
  for (const d of ETC_HIDDEN_DIRS) if (existsSync(d)) a.push('--tmpfs', d, '--remount-ro', d);
  a.push('--proc', '/proc', '--dev', '/dev');
  // Memory-backed and capped: /tmp, and the private home (/var/tmp is /tmp).
  a.push('--size', String(v.tmpBytes), '--tmpfs', '/tmp', '--symlink', '/tmp', '/var/tmp');
  a.push('--size', String(v.tmpBytes), '--tmpfs', SANDBOX_HOME);
  a.push('--bind', v.merged, v.workspace);
  for (const g of v.gitDirs) a.push('--ro-bind', g, g);
  if (v.proxySocket) a.push('--dir', path.dirname(PROXY_SOCKET), '--ro-bind', v.proxySocket, PROXY_SOCKET);
  // The root itself (a tmpfs bubblewrap made for the mount points) becomes read-only: a write anywhere but the
  // workspace, /tmp and the home fails (EROFS) instead of filling memory.
  a.push('--remount-ro', '/');
  a.push('--clearenv');
  for (const [k, val] of Object.entries(env)) a.push('--setenv', k, val);
  a.push('--chdir', v.workspace);
  return a;
}

/** The host user the sandbox runs as (the same uid and gid inside, so ownership and git's safe.directory agree). */
export function hostIds(): { uid: number; gid: number } {
  const info = os.userInfo();
  return { uid: info.uid, gid: info.gid };
}
