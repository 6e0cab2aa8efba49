import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startModelServer, type ModelServer } from '../demo/model-server/index.js';
import type { ChatMessage, ModelEvent, ModelRequest } from './types.js';
import { silentLogger } from '../state/index.js';
import { createModelFactory } from './index.js';

// One conversation with text, reasoning, two parallel tool calls, an error result and a follow-up prompt.
const history: ChatMessage[] = [
  { role: 'user', content: 'Fix the bug' },
  {
    role: 'assistant',
    content: 'Looking at both files.',
    reasoning: 'Need both files',
    toolCalls: [
      { id: 'call_1', name: 'read_file', arguments: '{"path":"a.ts"}' },
      { id: 'call_2', name: 'read_file', arguments: '' },
    ],
  },
  { role: 'tool', toolCallId: 'call_1', name: 'read_file', content: 'export const a = 1;' },
  { role: 'tool', toolCallId: 'call_2', name: 'read_file', content: 'path is required', isError: true },
  { role: 'user', content: 'Also check b.ts' },
];
const req: ModelRequest = { system: 'You are shadowbox.', messages: history, tools: [] };

let server: ModelServer;
beforeAll(async () => {
  server = await startModelServer();
});
afterAll(async () => {
  await server.close();
});

async function send(
  format: 'openai' | 'anthropic',
  r: ModelRequest,
  env: Record<string, string> = {},
): Promise<{ body: Record<string, unknown>; events: ModelEvent[] }> {
  const factory = createModelFactory({
    env: {
      OPENAI_API_KEY: 'k',
      OPENAI_BASE_URL: `${server.url}/v1`,
      ANTHROPIC_API_KEY: 'k',
      ANTHROPIC_BASE_URL: server.url,
      ...env,
    },
    logger: silentLogger,
  });
  const model = factory.create(`${format}/m`);
  const events: ModelEvent[] = [];
  for await (const ev of model.stream(r, new AbortController().signal)) events.push(ev);
  return { body: server.requests.at(-1)!.body as Record<string, unknown>, events };
}

describe('history mapping, as the server received it', () => {
  it('openai: system first, assistant tool_calls, one tool message per result, reasoning not sent back', async () => {
    server.push({ text: ['ok'] });
    const { body } = await send('openai', req);
    expect(body.messages).toEqual([
      { role: 'system', content: 'You are shadowbox.' },
      { role: 'user', content: 'Fix the bug' },
      {
        role: 'assistant',
        content: 'Looking at both files.',
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'read_file', arguments: '{"path":"a.ts"}' } },
          { id: 'call_2', type: 'function', function: { name: 'read_file', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: 'export const a = 1;' },
      { role: 'tool', tool_call_id: 'call_2', content: 'Error: path is required' },
      { role: 'user', content: 'Also check b.ts' },
    ]);
    expect(body.stream_options).toEqual({ include_usage: true });
    expect(body.tools).toBeUndefined();
  });

  it('anthropic: system on top, tool_use blocks, tool results merged into one user turn with the next prompt', async () => {
    server.push({ text: ['ok'] });
    const { body } = await send('anthropic', req);
    expect(body.system).toBe('You are shadowbox.');
    expect(body.max_tokens).toBe(16_384);
    expect(body.thinking).toBeUndefined();
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Fix the bug' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Looking at both files.' },
          { type: 'tool_use', id: 'call_1', name: 'read_file', input: { path: 'a.ts' } },
          { type: 'tool_use', id: 'call_2', name: 'read_file', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: 'export const a = 1;' },
          { type: 'tool_result', tool_use_id: 'call_2', content: 'path is required', is_error: true },
          { type: 'text', text: 'Also check b.ts' },
        ],
      },
    ]);
  });

  it('anthropic thinking: the signed thinking block goes back with its tool results; unknown signatures turn thinking off', async () => {
    const env = { SHADOWBOX_THINKING_BUDGET: '2048' };
    const factory = createModelFactory({
      env: { ANTHROPIC_API_KEY: 'k', ANTHROPIC_BASE_URL: server.url, ...env },
      logger: silentLogger,
    });
    const model = factory.create('anthropic/m');
    const run = async (r: ModelRequest) => {
      const evs: ModelEvent[] = [];
      for await (const ev of model.stream(r, new AbortController().signal)) evs.push(ev);
      return { evs, body: server.requests.at(-1)!.body as Record<string, unknown> };
    };
    server.push(
      {
        reasoning: ['I should ', 'read it'],
        toolCalls: [{ id: 'toolu_1', name: 'read_file', arguments: { path: 'x' } }],
      },
      { text: ['done'] },
    );
    const first = await run({ messages: [{ role: 'user', content: 'go' }], tools: [] });
    expect(first.body.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    expect(first.body.max_tokens).toBe(16_384 + 2048);
    const messages: ChatMessage[] = [
      { role: 'user', content: 'go' },
      {
        role: 'assistant',
        content: '',
        reasoning: 'I should read it',
        toolCalls: [{ id: 'toolu_1', name: 'read_file', arguments: '{"path":"x"}' }],
      },
      { role: 'tool', toolCallId: 'toolu_1', name: 'read_file', content: 'contents' },
    ];
    const second = await run({ messages, tools: [] });
    expect(second.body.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    expect((second.body.messages as Array<{ content: unknown[] }>)[1].content[0]).toEqual({
      type: 'thinking',
      thinking: 'I should read it',
      signature: expect.stringMatching(/^scripted-signature-/),
    });

    // A fresh client (as after a restart) does not know the signature: no thinking, no unsigned block.
    server.push({ text: ['ok'] });
    const { body } = await send('anthropic', { messages, tools: [] }, env);
    expect(body.thinking).toBeUndefined();
    expect((body.messages as Array<{ content: Array<{ type: string }> }>)[1].content.map((b) => b.type)).toEqual([
      'tool_use',
    ]);
  });
});
