import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../tools/test-support.js';
import { INHERITED_ENV } from './index.js';
import { serverEnv } from './connection.js';
import { inputSchemaOf, kindOf, renderContent, runtimeToolName } from './mcp-tool.js';

describe('MCP tool conversion', () => {
  it('maps annotations to kinds, readOnly first', () => {
    expect(kindOf({ annotations: { readOnlyHint: true, destructiveHint: true, openWorldHint: true } })).toBe('read');
    expect(kindOf({ annotations: { destructiveHint: true, openWorldHint: true } })).toBe('delete');
    expect(kindOf({ annotations: { openWorldHint: true } })).toBe('fetch');
    expect(kindOf({ annotations: { readOnlyHint: false } })).toBe('other');
    expect(kindOf({})).toBe('other');
  });

  it('names tools mcp__<server>__<tool> within what providers accept', () => {
    expect(runtimeToolName('github', 'create_issue')).toBe('mcp__github__create_issue');
    expect(runtimeToolName('fs', 'files.read/v2')).toBe('mcp__fs__files_read_v2');
    const long = runtimeToolName('server', 'x'.repeat(100));
    expect(long).toMatch(/^mcp__server__x+_[0-9a-f]{8}$/);
    expect(long.length).toBe(64);
    expect(runtimeToolName('server', 'x'.repeat(101))).not.toBe(long);
  });

  it('validates with zod from the JSON Schema and keeps extra keys for the server', () => {
    const logger = memoryLogger();
    const s = inputSchemaOf(
      'srv',
      {
        name: 't',
        inputSchema: { type: 'object', properties: { n: { type: 'integer', minimum: 1 } }, required: ['n'] },
      },
      logger,
    );
    expect(s.safeParse({ n: 0 }).success).toBe(false);
    expect(s.safeParse({}).success).toBe(false);
    expect(s.parse({ n: 2, extra: true })).toEqual({ n: 2, extra: true });
    expect(logger.lines).toEqual([]);
  });

  it('an unusable schema accepts any object and passes it through, with a warning', () => {
    const logger = memoryLogger();
    const s = inputSchemaOf(
      'srv',
      { name: 't', inputSchema: { type: 'object', properties: { a: { $ref: '#/$defs/missing' } } } },
      logger,
    );
    expect(s.parse({ a: 1, b: [2] })).toEqual({ a: 1, b: [2] });
    expect(s.safeParse('not an object').success).toBe(false);
    expect(logger.lines.some((l) => l.startsWith('warn mcp srv: tool t has an input schema'))).toBe(true);
    const js = z.toJSONSchema(s, { io: 'input' }) as { type: string; description: string };
    expect(js.type).toBe('object');
    expect(js.description).toContain('unchecked');
  });

  it('renders text, placeholders for other content, structuredContent when there is no content', () => {
    expect(
      renderContent({
        content: [
          { type: 'text', text: 'a' },
          { type: 'audio', data: 'AAAA', mimeType: 'audio/wav' },
        ],
      }),
    ).toBe('a\n[audio audio/wav, 3 bytes — not shown]');
    expect(renderContent({ content: [], structuredContent: { ok: 1 } })).toBe('{"ok":1}');
    expect(renderContent({ content: [] })).toBe('(no content)');
  });

  it('builds a stdio env of PATH, HOME, LANG and the configured vars; the SDK defaults are masked', () => {
    const env = serverEnv(
      { PATH: '/bin', HOME: '/h', LANG: 'C', USER: 'u', OPENAI_API_KEY: 'k' },
      { TOKEN: 'configured', USER: 'me' },
    );
    const defined = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
    expect(defined).toEqual({ PATH: '/bin', HOME: '/h', LANG: 'C', TOKEN: 'configured', USER: 'me' });
    expect(INHERITED_ENV).toEqual(['PATH', 'HOME', 'LANG']);
  });
});
