// Context compaction end to end: a 300-turn session on a model with a small window stays under it, still
// answers from the first turn (the scripted model only knows what it is sent), /compact works on demand,
// and a restarted daemon rebuilds exactly the compacted conversation from the event log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionAttach, SessionCommand, SessionCreate, SessionPrompt, type SessionEvent } from '@shadowbox/protocol';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import {
  startModelServer,
  type ModelServer,
  type RecordedRequest,
  type Reply,
  openaiEnv,
} from '../model-server/index.js';

const WINDOW = 8000;
const CODEWORD = 'CODEWORD-PELICAN-7';

type OpenAIBody = { messages: Array<{ role: string; content: unknown }> };
const messagesOf = (r: RecordedRequest) => (r.body as OpenAIBody).messages;
const isCompaction = (r: RecordedRequest) => {
  const first = messagesOf(r)[0];
  return first?.role === 'system' && typeof first.content === 'string' && first.content.startsWith('You compact');
};

/** Answers as a model that knows only what it is sent: summaries keep the codeword only if they saw it. */
function reply(r: RecordedRequest): Reply {
  const text = JSON.stringify(r.body);
  if (isCompaction(r))
    return {
      text: [
        `## Task\nA long chat.\n## Facts to remember\n${text.includes(CODEWORD) ? `The codeword is ${CODEWORD}.` : 'None.'}`,
      ],
    };
  const last = messagesOf(r).at(-1);
  const ask = typeof last?.content === 'string' ? last.content : '';
  if (ask.startsWith('What was the codeword'))
    return { text: [text.includes(CODEWORD) ? `It was ${CODEWORD}.` : 'I do not know.'] };
  return { text: [`noted: ${ask.slice(0, 12)}`] };
}

describe('context compaction', () => {
  let model: ModelServer;
  let d: TestDaemon;
  let stateDir: string;
  const env = () => ({
    ...openaiEnv(model),
    SHADOWBOX_CONTEXT_WINDOW: String(WINDOW),
  });
  beforeAll(async () => {
    model = await startModelServer({ onRequest: reply });
    stateDir = await makeTempDir('st');
    d = await startTestDaemon({ web: false, stateDir, env: env() });
  });
  afterAll(async () => {
    await d?.stop();
    await d?.cleanup();
    await model?.close();
  });

  it('300 turns stay under the window, answer from the first turn, compact on demand, and survive a restart', async () => {
    const c = await d.connect('long');
    const events: SessionEvent[] = [];
    c.onEvent((e) => events.push(e));
    const s = await c.request(SessionCreate, { workspace: await makeTempDir('ws') });
    const filler = 'Some detail about the project that the agent should keep in mind for a while. '.repeat(3);
    await c.request(SessionPrompt, { sessionId: s.sessionId, text: `Remember this: the codeword is ${CODEWORD}.` });
    for (let i = 1; i < 300; i++) {
      const r = await c.request(SessionPrompt, { sessionId: s.sessionId, text: `turn ${i}: ${filler}` });
      expect(r.stopReason).toBe('end_turn');
    }
    const compactions = events.filter((e) => e.event.type === 'compaction');
    expect(compactions.length).toBeGreaterThan(2);
    // Every request stayed under the window (the scripted server counts request bytes / 4 as input tokens).
    const usage = events.flatMap((e) => (e.event.type === 'usage' ? [e.event.inputTokens] : []));
    expect(usage.length).toBeGreaterThanOrEqual(300);
    expect(Math.max(...usage)).toBeLessThan(WINDOW);
    // The full history stays in the log: all 300 prompts are there.
    expect(events.filter((e) => e.event.type === 'user_message')).toHaveLength(300);

    const answer = await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'What was the codeword?' });
    expect(answer.stopReason).toBe('end_turn');
    const said = events
      .filter((e) => e.event.type === 'message_delta')
      .map((e) => (e.event as { text: string }).text)
      .at(-1);
    expect(said).toBe(`It was ${CODEWORD}.`);

    const cmd = await c.request(SessionCommand, { sessionId: s.sessionId, command: 'compact' });
    expect(cmd.text).toMatch(/^Summarized \d+ message/);
    expect(events.at(-1)?.event).toMatchObject({ type: 'compaction', trigger: 'command' });

    // Restart: the next request carries exactly what the live daemon would have sent (the compacted conversation).
    const before = model.requests.length;
    await c.request(SessionPrompt, { sessionId: s.sessionId, text: 'What was the codeword? (live)' });
    const live = messagesOf(model.requests[before]);
    await d.stop();
    d = await startTestDaemon({ web: false, stateDir, env: env() });
    const c2 = await d.connect('after-restart');
    await c2.request(SessionAttach, { sessionId: s.sessionId, fromSeq: 0, driver: true });
    const lengthBefore = model.requests.length;
    const again = await c2.request(SessionPrompt, {
      sessionId: s.sessionId,
      text: 'What was the codeword? (restarted)',
    });
    expect(again.stopReason).toBe('end_turn');
    const rebuilt = messagesOf(model.requests[lengthBefore]);
    // The restarted request is the live one plus the live turn's answer and the new question.
    expect(rebuilt.slice(0, live.length)).toEqual(live);
    expect(rebuilt.slice(live.length).map((m) => m.role)).toEqual(['assistant', 'user']);
    expect(JSON.stringify(rebuilt)).toContain(CODEWORD);
  });
});
