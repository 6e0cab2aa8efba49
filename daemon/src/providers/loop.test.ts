import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionEventBody } from '@shadowbox/protocol';
import { startModelServer, type ModelServer } from '../demo/model-server/index.js';
import { Conversation, runTurn } from '../agent/index.js';
import type { AgentTools } from '../agent/index.js';
import { silentLogger } from '../state/index.js';
import { createModelFactory } from './index.js';

// A tiny in-test tool registry: one read-only tool over an in-memory file map.
function fakeTools(files: Record<string, string>): AgentTools & { calls: unknown[] } {
  const calls: unknown[] = [];
  return {
    calls,
    specs: () => [
      {
        name: 'read_note',
        description: 'Read a note',
        inputSchema: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
      },
    ],
    describe: (name) => (name === 'read_note' ? { kind: 'read', summary: 'read a note', concurrent: true } : null),
    call: async ({ name, input }) => {
      calls.push({ name, input });
      const path = (input as { path?: string }).path ?? '';
      return path in files
        ? { isError: false, content: files[path], durationMs: 1 }
        : { isError: true, content: `no note ${path}`, durationMs: 1 };
    },
  };
}

describe.each(['openai', 'anthropic'] as const)(
  'runTurn with the %s provider against the scripted server',
  (format) => {
    let server: ModelServer;
    beforeAll(async () => {
      server = await startModelServer();
    });
    afterAll(async () => {
      await server.close();
    });

    it('tool call → tool result → next model turn → end_turn', async () => {
      server.push(
        {
          text: ['Let me read ', 'both.'],
          toolCalls: [
            { name: 'read_note', arguments: { path: 'a.txt' } },
            { name: 'read_note', arguments: { path: 'missing.txt' } },
          ],
        },
        { text: ['a.txt says ', 'hello.'], usage: { input: 50, output: 5 } },
      );
      const factory = createModelFactory({
        env: {
          OPENAI_API_KEY: 'k',
          OPENAI_BASE_URL: `${server.url}/v1`,
          ANTHROPIC_API_KEY: 'k',
          ANTHROPIC_BASE_URL: server.url,
        },
        logger: silentLogger,
      });
      const tools = fakeTools({ 'a.txt': 'hello' });
      const events: SessionEventBody[] = [];
      // The conversation folds every event the loop emits, as a live session does.
      const conversation = new Conversation();
      conversation.apply({ type: 'user_message', turnId: 't1', text: 'What do the notes say?', clientId: 'c' });
      const result = await runTurn({
        turnId: 't1',
        model: factory.create(`${format}/test-model`),
        system: 'sys',
        conversation,
        tools,
        emit: (e) => {
          conversation.apply(e);
          events.push(e);
        },
        signal: new AbortController().signal,
        limits: { maxTurns: 5, contextHighWater: 0.8 },
      });

      expect(result).toMatchObject({ stopReason: 'end_turn', usage: { outputTokens: expect.any(Number) as number } });
      expect(result.usage?.inputTokens).toBeGreaterThanOrEqual(50);
      expect(tools.calls).toEqual([
        { name: 'read_note', input: { path: 'a.txt' } },
        { name: 'read_note', input: { path: 'missing.txt' } },
      ]);
      const deltas = events.flatMap((e) => (e.type === 'message_delta' ? [e.text] : []));
      expect(deltas).toEqual(['Let me read ', 'both.', 'a.txt says ', 'hello.']);
      const updates = events.filter(
        (e) => e.type === 'tool_call_update' && (e.status === 'completed' || e.status === 'failed'),
      );
      expect(updates.map((e) => (e.type === 'tool_call_update' ? e.status : ''))).toEqual(['completed', 'failed']);
      expect(events.filter((e) => e.type === 'usage').at(-1)).toMatchObject({ inputTokens: 50, outputTokens: 5 });

      // The history the loop built, and what the provider sent for the second model turn.
      const history = conversation.history;
      expect(history.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant']);
      expect(history.at(-1)).toEqual({ role: 'assistant', content: 'a.txt says hello.' });
      expect(server.requests).toHaveLength(2);
      const second = server.requests[1].body as { messages: unknown[] };
      const ids = (history[1] as { toolCalls: { id: string }[] }).toolCalls.map((c) => c.id);
      if (format === 'openai') {
        expect(second.messages.slice(-2)).toEqual([
          { role: 'tool', tool_call_id: ids[0], content: 'hello' },
          { role: 'tool', tool_call_id: ids[1], content: 'Error: no note missing.txt' },
        ]);
      } else {
        expect(second.messages.at(-1)).toEqual({
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: ids[0], content: 'hello' },
            { type: 'tool_result', tool_use_id: ids[1], content: 'no note missing.txt', is_error: true },
          ],
        });
      }
    });

    it('a provider failure ends the turn with stop reason error and the provider code', async () => {
      server.push({ error: { status: 401 } });
      const factory = createModelFactory({
        env: {
          OPENAI_API_KEY: 'k',
          OPENAI_BASE_URL: `${server.url}/v1`,
          ANTHROPIC_API_KEY: 'k',
          ANTHROPIC_BASE_URL: server.url,
        },
        logger: silentLogger,
      });
      const conversation = new Conversation();
      conversation.apply({ type: 'user_message', turnId: 't2', text: 'hi', clientId: 'c' });
      const result = await runTurn({
        turnId: 't2',
        model: factory.create(`${format}/test-model`),
        system: 'sys',
        conversation,
        tools: fakeTools({}),
        emit: () => undefined,
        signal: new AbortController().signal,
        limits: { maxTurns: 5, contextHighWater: 0.8 },
      });
      expect(result.stopReason).toBe('error');
      expect(result.error).toMatchObject({ code: -33600, reason: 'auth_failed' });
    });
  },
);
