import { describe, expect, it } from 'vitest';
import { daemonMcpServers, serverName } from './mcp-servers.js';

describe('daemonMcpServers', () => {
  it('maps stdio servers (env list → record, cwd = the session cwd) and http servers (headers list → record)', () => {
    const log: string[] = [];
    const r = daemonMcpServers(
      [
        { name: 'files', command: '/usr/bin/fs-mcp', args: ['--stdio'], env: [{ name: 'TOKEN', value: 't0' }] },
        {
          type: 'http',
          name: 'Docs Search',
          url: 'https://mcp.example.com/mcp',
          headers: [{ name: 'Authorization', value: 'Bearer x' }],
        },
      ],
      '/ws',
      (m) => log.push(m),
    );
    expect(r).toEqual({
      files: { command: '/usr/bin/fs-mcp', args: ['--stdio'], env: { TOKEN: 't0' }, cwd: '/ws' },
      'docs-search': { url: 'https://mcp.example.com/mcp', headers: { Authorization: 'Bearer x' } },
    });
    expect(log).toEqual([]);
  });

  it('skips SSE servers and malformed ones with a log line, and makes clashing names unique', () => {
    const log: string[] = [];
    const r = daemonMcpServers(
      [
        { type: 'sse', name: 'old', url: 'https://x.example/sse', headers: [] },
        { type: 'http', name: 'bad', url: 'not a url', headers: [] },
        { name: 'empty', command: '', args: [], env: [] },
        { name: 'Git', command: '/bin/a', args: [], env: [] },
        { name: 'git', command: '/bin/b', args: [], env: [] },
      ],
      '/ws',
      (m) => log.push(m),
    );
    expect(Object.keys(r)).toEqual(['git', 'git-2']);
    expect(log).toHaveLength(3);
    expect(log[0]).toMatch(/"old" uses SSE/);
    expect(log[1]).toMatch(/"bad" skipped: url/);
  });

  it('names: lower case, [a-z0-9_-] only, no leading separator, at most 40 characters', () => {
    expect(serverName('GitHub Tools (work)')).toBe('github-tools-work');
    expect(serverName('__x')).toBe('x');
    expect(serverName('ü')).toBe('server');
    expect(serverName('a'.repeat(60))).toHaveLength(40);
  });
});
