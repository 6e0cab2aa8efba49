import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../tools/test-support.js';
import { createSessionMcpPool, type SessionMcpPool } from './index.js';

// The real fixture server (the SDK's McpServer over stdio) in a child process.
const FIXTURE = fileURLToPath(new URL('../../../test/mcp/fixture-server.mjs', import.meta.url));
const fx = { command: process.execPath, args: [FIXTURE], env: {} };
const pools: SessionMcpPool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

function pool(reserved: { servers?: string[]; tools?: string[] } = {}) {
  const logger = memoryLogger();
  const p = createSessionMcpPool({
    logger,
    clientInfo: { name: 't', version: '0' },
    reservedServers: reserved.servers ?? [],
    reservedTools: reserved.tools ?? [],
  });
  pools.push(p);
  return { p, logger };
}

describe('session MCP pool', () => {
  it('starts a session’s servers; the same set again keeps the same tools array; a new set replaces it; none removes it', async () => {
    const { p } = pool();
    await p.open('s1', { fx });
    const first = p.tools('s1')!;
    expect(first.map((t) => t.name)).toContain('mcp__fx__echo');
    expect(p.tools('s2')).toBeUndefined();
    await p.open('s1', { fx });
    expect(p.tools('s1')).toBe(first);
    await p.open('s1', { other: fx });
    expect(p.tools('s1')!.map((t) => t.name)).toContain('mcp__other__echo');
    expect(p.tools('s1')!.some((t) => t.name.startsWith('mcp__fx__'))).toBe(false);
    await p.open('s1', undefined);
    expect(p.tools('s1')).toBeUndefined();
    expect(p.status('s1')).toEqual([]);
  });

  it('skips a server named like one of config.json’s and tools named like a shared tool', async () => {
    const { p, logger } = pool({ servers: ['fx'], tools: ['mcp__mine__echo'] });
    await p.open('s1', { fx, mine: fx });
    const names = p.tools('s1')!.map((t) => t.name);
    expect(names.some((n) => n.startsWith('mcp__fx__'))).toBe(false);
    expect(names).not.toContain('mcp__mine__echo');
    expect(names).toContain('mcp__mine__add');
    expect(p.status('s1').map((s) => s.name)).toEqual(['mine']);
    expect(logger.lines.join('\n')).toMatch(/config\.json has a server with that name/);
  });

  it('after close, opening starts nothing', async () => {
    const { p } = pool();
    await p.close();
    await p.open('s1', { fx });
    expect(p.tools('s1')).toBeUndefined();
  });
});
