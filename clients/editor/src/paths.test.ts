// The bridges find the daemon by the daemon's own rules (daemon/src/state/paths.ts), empty variables included.
import { describe, expect, it } from 'vitest';
import { daemonPaths } from './paths.js';

describe('daemonPaths', () => {
  it('treats an empty SHADOWBOX_STATE_DIR or SHADOWBOX_SOCKET as unset (never the current folder)', () => {
    const env = { HOME: '/home/me', SHADOWBOX_STATE_DIR: '', SHADOWBOX_SOCKET: '', XDG_RUNTIME_DIR: '/run/user/1' };
    expect(daemonPaths(env)).toEqual({
      stateDir: '/home/me/.local/state/shadowbox',
      socketPath: '/run/user/1/shadowbox/daemon.sock',
    });
    expect(daemonPaths({ ...env, SHADOWBOX_STATE_DIR: '/s' }).socketPath).toBe('/s/daemon.sock');
    expect(daemonPaths(env, '/flag').stateDir).toBe('/flag');
  });
});
